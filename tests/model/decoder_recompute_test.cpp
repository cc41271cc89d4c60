// Activation recomputation (model/decoder.h, Recomputation): selective and full recomputation,
// of every layer or of the first few, give bit for bit the loss and gradients of keeping every
// activation, and keep less memory.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/model_test_util.h"
#include "support/grad_check.h"

namespace kiln {
namespace {

using testing::small_model;
using testing::TestBatch;

struct Result {
  double loss;
  std::vector<float> token_losses, grads;
  int64_t arena_bytes;
};

// Two micro batches accumulated into one gradient, as the trainer does, so state left behind by
// one backward (the shared recompute buffers) cannot leak into the next.
Result run(const ModelConfig& m, Recomputation r) {
  Decoder<float> d(m, 2, 5, nullptr, {}, r);
  const int64_t n = d.registry().total_numel();
  const std::vector<double> p = kiln::testing::random_vector(static_cast<size_t>(n), 7, -0.3, 0.3);
  const std::vector<float> params(p.begin(), p.end());
  Result out{0, {}, std::vector<float>(static_cast<size_t>(n), 0.0f), d.arena_bytes()};
  for (uint32_t seed : {11u, 12u}) {
    const TestBatch batch(2, 5, static_cast<int>(m.vocab_size), seed, /*documents=*/true);
    out.loss += d.forward(params.data(), batch.view(), 0.05f);
    d.backward(params.data(), out.grads.data());
  }
  out.token_losses.assign(d.token_losses(), d.token_losses() + 10);
  return out;
}

class DecoderRecompute : public ::testing::TestWithParam<std::vector<Override>> {};

TEST_P(DecoderRecompute, GivesTheSameBitsAsKeepingEveryActivation) {
  const ModelConfig m = small_model(GetParam());
  ASSERT_GE(m.num_layers, 2);
  const int L = static_cast<int>(m.num_layers);
  const Result keep = run(m, {});
  for (const Recomputation r : {Recomputation{Recompute::selective, L}, Recomputation{Recompute::full, L},
                                Recomputation{Recompute::selective, 1}, Recomputation{Recompute::full, 1},
                                Recomputation{Recompute::full, 0}}) {
    const std::string what = std::string(r.mode == Recompute::full ? "full" : "selective") + " × " +
                             std::to_string(r.layers) + " layers";
    const Result got = run(m, r);
    EXPECT_EQ(got.loss, keep.loss) << what;
    EXPECT_EQ(got.token_losses, keep.token_losses) << what;
    EXPECT_EQ(got.grads, keep.grads) << what;
    if (r.layers == 0) {
      EXPECT_EQ(got.arena_bytes, keep.arena_bytes) << what << ": recomputing no layer keeps everything";
    } else if (r.layers == L) {
      EXPECT_LT(got.arena_bytes, keep.arena_bytes) << what;
    }
  }
  // More recomputation, less memory: full < selective < none (every layer recomputing).
  EXPECT_LT(run(m, {Recompute::full, L}).arena_bytes, run(m, {Recompute::selective, L}).arena_bytes);
}

INSTANTIATE_TEST_SUITE_P(Variants, DecoderRecompute,
                         ::testing::Values(std::vector<Override>{{"model.num_layers", "3"}},
                                           std::vector<Override>{{"model.num_layers", "3"},
                                                                 {"model.parallel_residual", "true"}},
                                           std::vector<Override>{{"model.num_layers", "2"},
                                                                 {"model.activation", "gelu"},
                                                                 {"model.positions", "alibi"}}));

TEST(DecoderRecompute, RefusesMoreLayersThanTheModelHas) {
  const ModelConfig m = small_model({});
  EXPECT_THROW(Decoder<float>(m, 1, 4, nullptr, {}, {Recompute::full, static_cast<int>(m.num_layers) + 1}),
               std::invalid_argument);
  EXPECT_THROW(Decoder<float>(m, 1, 4, nullptr, {}, {Recompute::full, -1}), std::invalid_argument);
}

}  // namespace
}  // namespace kiln
