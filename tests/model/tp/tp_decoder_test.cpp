// The tensor-parallel decoder against the tp = 1 decoder, computed on every rank in the same
// process from the same global parameters: the loss, the per-token losses, and the GATHERED
// gradients of one forward + backward, in double (tight) and float (fp32 tolerance), for every
// model variant; plus the norm-counting ranges on real gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/init.h"
#include "model/model_test_util.h"
#include "model/tensor_parallel.h"
#include "model/tp/tp_test_env.h"
#include "support/grad_check.h"

namespace kiln::tp_test {
namespace {

using kiln::testing::TestBatch;

struct TpCase {
  std::string name;
  std::vector<Override> overrides;
  bool documents;  // packed rows with per-document masks and position resets
};
void PrintTo(const TpCase& c, std::ostream* os) { *os << c.name; }

const std::vector<Override> kMup = {{"model.mup.enabled", "true"},
                                    {"model.mup.base_hidden_size", "8"},
                                    {"model.mup.embeddings_scale", "3.0"},
                                    {"model.mup.output_alpha", "2.5"},
                                    {"model.mup.scale_qk_dot_by_d", "true"}};

std::vector<Override> plus(std::vector<Override> a, const std::vector<Override>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Result {
  double loss;
  std::vector<double> token_losses, grads;  // grads in the global (tp = 1) layout
  double norm_sq;                           // Σ g² as the norm-counting rule sums it
};

// One forward (dloss_scale 0.125) + backward, as the tp = 1 decoder and as this rank of the TP
// group; TP gradients are gathered to the global layout.
template <class Real>
void run_both(const ModelConfig& m, const std::vector<Real>& global_params, const TestBatch& batch, Result& ref,
              Result& tp) {
  Communicator& comm = tp_group();
  const int B = batch.storage.batch, T = batch.storage.seq, N = B * T;
  const Real scale = Real(0.125);

  Decoder<Real> one(m, B, T);
  std::vector<Real> g1(global_params.size(), Real(0));
  ref.loss = one.forward(global_params.data(), batch.view(), scale);
  ref.token_losses.assign(one.token_losses(), one.token_losses() + N);
  one.backward(global_params.data(), g1.data());
  ref.grads.assign(g1.begin(), g1.end());
  ref.norm_sq = 0;
  for (Real g : g1) ref.norm_sq += static_cast<double>(g) * g;

  Decoder<Real> dec(m, B, T, nullptr, TensorParallel::of(comm));
  const TpLayout& layout = dec.layout();
  ASSERT_EQ(layout.global_registry().total_numel(), static_cast<int64_t>(global_params.size()));
  std::vector<Real> local(static_cast<size_t>(dec.registry().total_numel()), Real(0));
  layout.shard_from_global(global_params.data(), local.data());
  std::vector<Real> gl(local.size(), Real(0));
  tp.loss = dec.forward(local.data(), batch.view(), scale);
  tp.token_losses.assign(dec.token_losses(), dec.token_losses() + N);
  dec.backward(local.data(), gl.data());
  std::vector<Real> gathered(global_params.size(), Real(0));
  layout.gather_all(comm, gl.data(), gathered.data());
  tp.grads.assign(gathered.begin(), gathered.end());
  tp.norm_sq = 0;
  for (const ElementRange& r : layout.norm_ranges())
    for (int64_t i = r.begin; i < r.end; ++i) tp.norm_sq += static_cast<double>(gl[static_cast<size_t>(i)]) * gl[static_cast<size_t>(i)];
  comm.all_reduce(&tp.norm_sq, 1, CommDType::fp64, ReduceOp::sum);

  // evaluate() gives the same loss without a backward pass.
  EXPECT_EQ(dec.evaluate(local.data(), batch.view()), tp.loss);
}

void expect_match(const ModelConfig& m, const Result& ref, const Result& tp, double rel) {
  EXPECT_NEAR(tp.loss, ref.loss, rel * std::fabs(ref.loss));
  EXPECT_LT(max_abs_diff(tp.token_losses, ref.token_losses), rel * std::max(1.0, max_abs(ref.token_losses)));
  const double scale = std::max(1e-3, max_abs(ref.grads));
  EXPECT_GT(max_abs(ref.grads), 1e-4);
  const ParamRegistry global = make_param_registry(m);
  for (const ParamEntry& e : global) {
    const std::vector<double> a(ref.grads.begin() + e.offset, ref.grads.begin() + e.end());
    const std::vector<double> b(tp.grads.begin() + e.offset, tp.grads.begin() + e.end());
    EXPECT_LT(max_abs_diff(a, b), rel * scale) << e.name << " (max |g| " << max_abs(a) << ")";
  }
  EXPECT_NEAR(tp.norm_sq, ref.norm_sq, 10 * rel * ref.norm_sq);
}

class TpDecoder : public ::testing::TestWithParam<TpCase> {};

TEST_P(TpDecoder, DoubleMatchesTp1) {
  const TpCase& c = GetParam();
  const ModelConfig m = tp_model(c.overrides);
  const auto n = static_cast<size_t>(make_param_registry(m).total_numel());
  const std::vector<double> params = kiln::testing::random_vector(n, 42, -0.5, 0.5);
  const TestBatch batch(2, 5, static_cast<int>(m.vocab_size), 17, c.documents);
  Result ref, tp;
  run_both(m, params, batch, ref, tp);
  expect_match(m, ref, tp, 1e-10);
}

TEST_P(TpDecoder, FloatMatchesTp1) {
  const TpCase& c = GetParam();
  const ModelConfig m = tp_model(plus(c.overrides, {{"model.init.std", "0.2"}, {"model.init.embedding_std", "0.5"}}));
  const TpLayout one(m);
  std::vector<float> params(static_cast<size_t>(one.registry().total_numel()), 0.0f);
  init_parameters(params.data(), one.registry(), m, 7);
  const TestBatch batch(2, 5, static_cast<int>(m.vocab_size), 23, c.documents);
  Result ref, tp;
  run_both(m, params, batch, ref, tp);
  expect_match(m, ref, tp, 2e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Variants, TpDecoder,
    ::testing::Values(
        TpCase{"partial_rotary_untied_qkv_bias", {{"model.positions", "rotary"}, {"model.qkv_bias", "true"}}, false},
        TpCase{"partial_rotary_documents", {{"model.positions", "rotary"}, {"model.qkv_bias", "true"}}, true},
        TpCase{"alibi_tied_linear_bias",
               {{"model.positions", "alibi"}, {"model.tied_embeddings", "true"}, {"model.linear_bias", "true"}},
               false},
        // 12 heads: 6 or 3 per rank, slopes from the non-power-of-two part of the ALiBi recipe.
        TpCase{"alibi_12_heads_documents",
               {{"model.positions", "alibi"}, {"model.hidden_size", "48"}, {"model.num_heads", "12"}},
               true},
        TpCase{"no_positions_parallel_residual",
               {{"model.positions", "none"}, {"model.parallel_residual", "true"}, {"model.linear_bias", "true"}},
               false},
        TpCase{"rotary_parallel_tied_documents",
               {{"model.parallel_residual", "true"}, {"model.tied_embeddings", "true"}},
               true},
        TpCase{"mup_alibi_tied_btlm",
               plus(kMup, {{"model.positions", "alibi"},
                           {"model.tied_embeddings", "true"},
                           {"model.linear_bias", "true"},
                           {"model.qkv_bias", "true"}}),
               true},
        TpCase{"mup_rotary_untied_parallel", plus(kMup, {{"model.parallel_residual", "true"}}), false},
        TpCase{"gelu_rmsnorm_documents", {{"model.activation", "gelu"}, {"model.norm", "rmsnorm"}}, true},
        TpCase{"gelu_layernorm_biases",
               {{"model.activation", "gelu"}, {"model.linear_bias", "true"}, {"model.qkv_bias", "true"}},
               false},
        TpCase{"no_biases_anywhere",
               {{"model.norm_bias", "false"},
                {"model.final_norm_bias", "false"},
                {"model.qkv_bias", "false"},
                {"model.linear_bias", "false"}},
               true}),
    [](const ::testing::TestParamInfo<TpCase>& info) { return info.param.name; });

// Gradients of replicated tensors come out bitwise identical on every rank of the group (so none
// needs a reduction of its own, and counting them on rank 0 alone is right).
TEST(TpDecoderReplicas, ReplicatedGradientsAgreeAcrossRanks) {
  Communicator& comm = tp_group();
  const ModelConfig m = tp_model({{"model.linear_bias", "true"}, {"model.parallel_residual", "true"}});
  Decoder<double> dec(m, 2, 5, nullptr, TensorParallel::of(comm));
  std::vector<double> local(static_cast<size_t>(dec.registry().total_numel()), 0.0);
  init_parameters(local.data(), dec.layout(), m, 3);
  const TestBatch batch(2, 5, 13, 5, true);
  std::vector<double> g(local.size(), 0.0);
  dec.forward(local.data(), batch.view(), 0.1);
  dec.backward(local.data(), g.data());
  for (size_t i = 0; i < dec.registry().size(); ++i) {
    if (!dec.layout().shard(i).replicated()) continue;
    const ParamEntry& e = dec.registry().entries()[i];
    std::vector<double> mine(g.begin() + e.offset, g.begin() + e.end()), rank0 = mine;
    comm.broadcast(rank0.data(), rank0.size(), CommDType::fp64, 0);
    EXPECT_EQ(mine, rank0) << e.name;
  }
}

// Recomputation under TP: the recomputed forward repeats o_proj's all-reduce (and skips
// down_proj's), and must still give bit for bit the gradients of keeping every activation.
TEST(TpDecoderRecompute, SelectiveAndFullGiveTheSameBitsAsKeepingEverything) {
  Communicator& comm = tp_group();
  for (const std::vector<Override>& o : {std::vector<Override>{}, std::vector<Override>{{"model.parallel_residual", "true"}}}) {
    const ModelConfig m = tp_model(o);
    const int L = static_cast<int>(m.num_layers);
    const TestBatch batch(2, 5, static_cast<int>(m.vocab_size), 9, true);
    auto run = [&](Recomputation r) {
      Decoder<double> dec(m, 2, 5, nullptr, TensorParallel::of(comm), r);
      std::vector<double> local(static_cast<size_t>(dec.registry().total_numel()), 0.0);
      init_parameters(local.data(), dec.layout(), m, 3);
      std::vector<double> g(local.size(), 0.0);
      const double loss = dec.forward(local.data(), batch.view(), 0.1);
      dec.backward(local.data(), g.data());
      g.push_back(loss);
      return g;
    };
    const std::vector<double> keep = run({});
    EXPECT_EQ(run({Recompute::selective, L}), keep) << "selective";
    EXPECT_EQ(run({Recompute::full, L}), keep) << "full";
    EXPECT_EQ(run({Recompute::full, 1}), keep) << "full, first layer";
  }
}

}  // namespace
}  // namespace kiln::tp_test
