// TpLayout: the split table, initialisation slices, gathering, and the norm-counting ranges.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/init.h"
#include "model/tensor_parallel.h"
#include "model/tp/tp_test_env.h"

namespace kiln::tp_test {
namespace {

std::vector<double> tensor_of(const ParamRegistry& r, const std::vector<double>& flat, size_t i) {
  const ParamEntry& e = r.entries()[i];
  return {flat.begin() + e.offset, flat.begin() + e.end()};
}

TEST(TpLayout, SplitsTheTensorsMegatronStyle) {
  EXPECT_EQ(tp_split_dim("model.embed_tokens.weight"), 0);
  EXPECT_EQ(tp_split_dim("lm_head.weight"), 0);
  EXPECT_EQ(tp_split_dim("model.layers.0.self_attn.q_proj.weight"), 0);
  EXPECT_EQ(tp_split_dim("model.layers.0.self_attn.v_proj.bias"), 0);
  EXPECT_EQ(tp_split_dim("model.layers.1.mlp.gate_proj.weight"), 0);
  EXPECT_EQ(tp_split_dim("model.layers.1.mlp.up_proj.bias"), 0);
  EXPECT_EQ(tp_split_dim("model.layers.0.self_attn.o_proj.weight"), 1);
  EXPECT_EQ(tp_split_dim("model.layers.0.mlp.down_proj.weight"), 1);
  EXPECT_EQ(tp_split_dim("model.layers.0.self_attn.o_proj.bias"), -1);
  EXPECT_EQ(tp_split_dim("model.layers.0.mlp.down_proj.bias"), -1);
  EXPECT_EQ(tp_split_dim("model.layers.0.input_layernorm.weight"), -1);
  EXPECT_EQ(tp_split_dim("model.norm.bias"), -1);
  EXPECT_THROW(tp_split_dim("model.bogus"), std::invalid_argument);

  const int tp = tp_group().size(), rank = tp_group().rank();
  const ModelConfig m = tp_model({{"model.linear_bias", "true"}, {"model.qkv_bias", "true"}});
  const TpLayout layout(m, rank, tp);
  ASSERT_EQ(layout.registry().size(), layout.global_registry().size());
  for (size_t i = 0; i < layout.registry().size(); ++i) {
    const ParamEntry& l = layout.registry().entries()[i];
    const ParamEntry& g = layout.global_registry().entries()[i];
    const ParamShard& s = layout.shard(i);
    EXPECT_EQ(l.name, g.name);
    EXPECT_EQ(s.global_shape, g.shape) << g.name;
    EXPECT_EQ(l.info.decay, g.info.decay);
    if (s.replicated()) {
      EXPECT_EQ(l.shape, g.shape) << g.name;
      EXPECT_EQ(s.counts_in_norm, rank == 0) << g.name;
    } else {
      EXPECT_EQ(l.shape, g.shape.with_dim(s.split_dim, g.shape[s.split_dim] / tp)) << g.name;
      EXPECT_EQ(s.begin, rank * l.shape[s.split_dim]) << g.name;
      EXPECT_TRUE(s.counts_in_norm);
    }
  }
  EXPECT_EQ(layout.shard("model.layers.1.self_attn.k_proj.weight").split_dim, 0);
}

TEST(TpLayout, RejectsSplitsThatDoNotDivide) {
  const ModelConfig m = tp_model();  // H = 4, f = 24, V = 16
  EXPECT_THROW(TpLayout(m, 0, 3), std::invalid_argument);
  EXPECT_THROW(TpLayout(m, 2, 2), std::invalid_argument);
  EXPECT_THROW(Decoder<double>(m, 1, 5, nullptr, TensorParallel{0, 2, nullptr}), std::invalid_argument);
  Communicator& comm = tp_group();
  const TensorParallel wrong{(comm.rank() + 1) % comm.size(), comm.size(), &comm};
  if (comm.size() > 1) {
    EXPECT_THROW(Decoder<double>(m, 1, 5, nullptr, wrong), std::invalid_argument);
  }
}

struct InitCase {
  std::string name;
  std::vector<Override> overrides;
};
void PrintTo(const InitCase& c, std::ostream* os) { *os << c.name; }

class TpInit : public ::testing::TestWithParam<InitCase> {};

// Each rank's init is exactly its slice of the global init (bitwise), and gathering the slices
// gives the global init back.
TEST_P(TpInit, SlicesEqualTheGlobalInitAndGatherBack) {
  Communicator& comm = tp_group();
  const ModelConfig m = tp_model(GetParam().overrides);
  const TpLayout layout(m, comm.rank(), comm.size());
  const uint64_t seed = 1234;

  std::vector<double> global(static_cast<size_t>(layout.global_registry().total_numel()), 0.0);
  init_parameters(global.data(), layout.global_registry(), m, seed);
  std::vector<double> local(static_cast<size_t>(layout.registry().total_numel()), 0.0);
  init_parameters(local.data(), layout, m, seed);
  std::vector<double> expected(local.size(), 0.0);
  layout.shard_from_global(global.data(), expected.data());
  EXPECT_EQ(local, expected);

  std::vector<float> local_f(local.size(), 0.0f);
  init_parameters(local_f.data(), layout, m, seed);
  for (size_t i = 0; i < local.size(); ++i) ASSERT_EQ(local_f[i], static_cast<float>(local[i])) << i;

  std::vector<double> gathered(global.size(), 0.0);
  layout.gather_all(comm, local.data(), gathered.data());
  for (size_t i = 0; i < layout.registry().size(); ++i) {
    EXPECT_EQ(tensor_of(layout.global_registry(), gathered, i), tensor_of(layout.global_registry(), global, i))
        << layout.registry().entries()[i].name;
  }
  // A tp = 1 layout is the plain registry and the plain init.
  const TpLayout one(m);
  std::vector<double> plain(global.size(), 0.0);
  init_parameters(plain.data(), one, m, seed);
  EXPECT_EQ(plain, global);
  EXPECT_EQ(one.registry().total_numel(), one.global_registry().total_numel());
}

INSTANTIATE_TEST_SUITE_P(
    Configs, TpInit,
    ::testing::Values(InitCase{"swiglu_untied_biases", {{"model.linear_bias", "true"}, {"model.qkv_bias", "true"}}},
                      InitCase{"gelu_tied_truncated",
                               {{"model.activation", "gelu"},
                                {"model.tied_embeddings", "true"},
                                {"model.init.method", "truncated_normal"}}},
                      InitCase{"mup_scaled_outputs",
                               {{"model.mup.enabled", "true"},
                                {"model.mup.base_hidden_size", "8"},
                                {"model.init.scale_output_layers", "true"}}}),
    [](const ::testing::TestParamInfo<InitCase>& info) { return info.param.name; });

// Every parameter element is counted in the norm on exactly one rank of the group.
TEST(TpLayout, NormRangesCountEveryElementOnce) {
  Communicator& comm = tp_group();
  const ModelConfig m = tp_model({{"model.linear_bias", "true"}, {"model.qkv_bias", "true"}});
  const TpLayout layout(m, comm.rank(), comm.size());
  std::vector<double> ones(static_cast<size_t>(layout.registry().total_numel()), 0.0);  // padding stays 0
  for (const ParamEntry& e : layout.registry()) std::fill(ones.begin() + e.offset, ones.begin() + e.end(), 1.0);

  double counted = 0;
  int64_t previous_end = -1;
  for (const ElementRange& r : layout.norm_ranges()) {
    EXPECT_LT(previous_end, r.begin);
    EXPECT_LT(r.begin, r.end);
    previous_end = r.end;
    for (int64_t i = r.begin; i < r.end; ++i) counted += ones[static_cast<size_t>(i)];
  }
  comm.all_reduce(&counted, 1, CommDType::fp64, ReduceOp::sum);
  EXPECT_EQ(counted, static_cast<double>(layout.global_registry().param_count()));

  // A slice's ranges are the intersection.
  const int64_t total = layout.registry().total_numel(), b = total / 3, e = 2 * total / 3;
  double in_slice = 0, direct = 0;
  for (const ElementRange& r : layout.norm_ranges(b, e)) {
    EXPECT_LE(b, r.begin);
    EXPECT_LE(r.end, e);
    for (int64_t i = r.begin; i < r.end; ++i) in_slice += ones[static_cast<size_t>(i)];
  }
  for (const ElementRange& r : layout.norm_ranges())
    for (int64_t i = std::max(r.begin, b); i < std::min(r.end, e); ++i) direct += ones[static_cast<size_t>(i)];
  EXPECT_EQ(in_slice, direct);
  if (comm.rank() == 0) {
    EXPECT_EQ(layout.norm_ranges().size(), 1u);  // everything, merged over padding
  }
}

}  // namespace
}  // namespace kiln::tp_test
