#include "model/init.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "model/model_test_util.h"

namespace kiln {
namespace {

using testing::small_model;

ModelConfig tiny() { return load_config(std::string(KILN_SOURCE_DIR) + "/configs/tiny.yml").config.model; }

struct Stats {
  double mean = 0, std = 0, max_abs = 0;
};

Stats stats(const double* p, int64_t n) {
  Stats s;
  for (int64_t i = 0; i < n; ++i) s.mean += p[i];
  s.mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    s.std += (p[i] - s.mean) * (p[i] - s.mean);
    s.max_abs = std::max(s.max_abs, std::fabs(p[i]));
  }
  s.std = std::sqrt(s.std / static_cast<double>(n));
  return s;
}

std::vector<double> initialised(const ParamRegistry& r, const ModelConfig& m, uint64_t seed) {
  std::vector<double> p(static_cast<size_t>(r.total_numel()));
  init_parameters(p.data(), r, m, seed);
  return p;
}

Stats tensor_stats(const std::vector<double>& p, const ParamRegistry& r, const std::string& name) {
  const ParamEntry& e = r.at(name);
  return stats(p.data() + e.offset, e.numel());
}

TEST(Init, NormalStatisticsPerRole) {
  const ModelConfig m = tiny();  // std 0.02, scale_output_layers, L = 2
  const ParamRegistry r = make_param_registry(m);
  const auto p = initialised(r, m, 7);

  const Stats emb = tensor_stats(p, r, "model.embed_tokens.weight");  // 32,768 values
  EXPECT_NEAR(emb.mean, 0.0, 4 * 0.02 / std::sqrt(32768.0));
  EXPECT_NEAR(emb.std, 0.02, 0.02 * 0.03);

  const Stats q = tensor_stats(p, r, "model.layers.0.mlp.up_proj.weight");  // 12,288 values
  EXPECT_NEAR(q.std, 0.02, 0.02 * 0.04);
  const Stats down = tensor_stats(p, r, "model.layers.1.mlp.down_proj.weight");
  EXPECT_NEAR(down.std, 0.02 / 2.0, 0.01 * 0.04);  // × 1/sqrt(2·2)
  const Stats head = tensor_stats(p, r, "lm_head.weight");
  EXPECT_NEAR(head.std, 0.02, 0.02 * 0.03);
}

TEST(Init, NormsAreOnesAndBiasesZeros) {
  const ModelConfig m = small_model({{"model.linear_bias", "true"}, {"model.qkv_bias", "true"}});
  const ParamRegistry r = make_param_registry(m);
  const auto p = initialised(r, m, 1);
  for (const ParamEntry& e : r) {
    const ParamRole role = param_role(e.name);
    if (role != ParamRole::norm_weight && role != ParamRole::norm_bias && role != ParamRole::bias) continue;
    const double want = role == ParamRole::norm_weight ? 1.0 : 0.0;
    for (int64_t i = 0; i < e.numel(); ++i) ASSERT_EQ(p[static_cast<size_t>(e.offset + i)], want) << e.name;
  }
}

TEST(Init, TruncatedNormalStaysInsideTheBoundsWithTheTruncatedStd) {
  const ModelConfig m = small_model({{"model.init.method", "truncated_normal"},
                                     {"model.init.truncation", "2"},
                                     {"model.init.std", "0.1"},
                                     {"model.init.scale_output_layers", "false"},
                                     {"model.vocab_size", "5000"}});
  const ParamRegistry r = make_param_registry(m);
  const auto p = initialised(r, m, 3);
  const Stats emb = tensor_stats(p, r, "model.embed_tokens.weight");  // 40,000 values
  EXPECT_LE(emb.max_abs, 2 * 0.1);
  EXPECT_GT(emb.max_abs, 1.9 * 0.1);  // the tails are populated up to the cut
  // The std of a standard normal truncated at ±2 is 0.8796.
  EXPECT_NEAR(emb.std, 0.1 * 0.8796, 0.1 * 0.8796 * 0.03);
  for (const ParamEntry& e : r) {
    if (param_role(e.name) != ParamRole::hidden) continue;
    EXPECT_LE(tensor_stats(p, r, e.name).max_abs, 2 * 0.1) << e.name;
  }
}

TEST(Init, MupScalesHiddenMatricesOnly) {
  const ModelConfig m = small_model({{"model.mup.enabled", "true"},
                                     {"model.mup.base_hidden_size", "2"},
                                     {"model.init.std", "0.5"},
                                     {"model.init.embedding_std", "0.3"}});
  EXPECT_DOUBLE_EQ(init_rule(ParamRole::hidden, m).std, 0.5 * std::sqrt(0.25));
  EXPECT_DOUBLE_EQ(init_rule(ParamRole::hidden_out, m).std, 0.5 * std::sqrt(0.25) / std::sqrt(4.0));
  EXPECT_DOUBLE_EQ(init_rule(ParamRole::embedding, m).std, 0.3);
  EXPECT_DOUBLE_EQ(init_rule(ParamRole::lm_head, m).std, 0.5);
  EXPECT_EQ(init_rule(ParamRole::norm_weight, m).kind, InitRule::Kind::ones);
  EXPECT_EQ(init_rule(ParamRole::bias, m).kind, InitRule::Kind::zeros);

  const ModelConfig plain = small_model({{"model.init.std", "0.5"}, {"model.init.scale_output_layers", "false"}});
  EXPECT_DOUBLE_EQ(init_rule(ParamRole::hidden_out, plain).std, 0.5);
  EXPECT_DOUBLE_EQ(init_rule(ParamRole::embedding, plain).std, 0.5);  // embedding_std defaults to std
}

TEST(Init, DeterministicPerSeedAndName) {
  const ModelConfig m = small_model();
  const ParamRegistry r = make_param_registry(m);
  EXPECT_EQ(initialised(r, m, 11), initialised(r, m, 11));
  EXPECT_NE(initialised(r, m, 11), initialised(r, m, 12));

  // Adding Q/K/V biases shifts every later offset; values are keyed by name, not position.
  const ModelConfig with_bias = small_model({{"model.qkv_bias", "true"}});
  const ParamRegistry rb = make_param_registry(with_bias);
  const auto a = initialised(r, m, 5);
  const auto b = initialised(rb, with_bias, 5);
  const std::string name = "model.layers.1.mlp.up_proj.weight";
  ASSERT_NE(r.at(name).offset, rb.at(name).offset);
  for (int64_t i = 0; i < r.at(name).numel(); ++i)
    ASSERT_EQ(a[static_cast<size_t>(r.at(name).offset + i)], b[static_cast<size_t>(rb.at(name).offset + i)]);

  // Different tensors get different streams.
  const ParamEntry& q = r.at("model.layers.0.self_attn.q_proj.weight");
  const ParamEntry& k = r.at("model.layers.0.self_attn.k_proj.weight");
  EXPECT_NE(a[static_cast<size_t>(q.offset)], a[static_cast<size_t>(k.offset)]);
}

TEST(Init, FloatIsTheRoundingOfDoubleAndBufferOverloadWorks) {
  const ModelConfig m = small_model();
  const ParamRegistry r = make_param_registry(m);
  const auto d = initialised(r, m, 9);
  std::vector<float> f(static_cast<size_t>(r.total_numel()));
  init_parameters(f.data(), r, m, 9);
  for (size_t i = 0; i < f.size(); ++i) ASSERT_EQ(f[i], static_cast<float>(d[i])) << i;

  Buffer buffer(DType::fp32, r.total_numel());
  init_parameters(buffer, r, m, 9);
  for (size_t i = 0; i < f.size(); ++i) ASSERT_EQ(buffer.data<float>()[i], f[i]) << i;
  Buffer short_buffer(DType::fp32, r.total_numel() - 1);
  EXPECT_THROW(init_parameters(short_buffer, r, m, 9), std::invalid_argument);
}

}  // namespace
}  // namespace kiln
