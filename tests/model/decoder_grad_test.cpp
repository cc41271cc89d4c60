// Whole-model finite-difference gradient checks, in double, over every parameter element.
//
// Parameters are random in [−0.5, 0.5] rather than the small initial values, so that every
// gradient is of order 0.01–1 and a wrong one cannot hide under expect_gradient's absolute floor.
#include <gtest/gtest.h>
#include <omp.h>

#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/model_test_util.h"
#include "support/grad_check.h"

namespace kiln {
namespace {

using testing::small_model;
using testing::TestBatch;

struct GradCase {
  std::string name;
  std::vector<Override> overrides;
  bool documents;  // packed rows with per-document masks and position resets
};

void PrintTo(const GradCase& c, std::ostream* os) { *os << c.name; }

class DecoderGradient : public ::testing::TestWithParam<GradCase> {
 protected:
  // A check runs a few thousand forward passes of a model whose parallel loops have 4 items
  // (B·H): waking a thread team per loop costs far more than the work, and on a loaded 2-core CI
  // machine spinning teams made one check take 30 s instead of 0.2. The kernels' results do not
  // depend on the thread count, so one thread checks the same arithmetic.
  void SetUp() override {
    saved_threads_ = omp_get_max_threads();
    omp_set_num_threads(1);
  }
  void TearDown() override { omp_set_num_threads(saved_threads_); }

 private:
  int saved_threads_ = 1;
};

TEST_P(DecoderGradient, MatchesFiniteDifferencesForEveryParameter) {
  const GradCase& c = GetParam();
  const ModelConfig m = small_model(c.overrides);
  Decoder<double> decoder(m, 2, 5);
  const int64_t n = decoder.registry().total_numel();
  std::vector<double> params = kiln::testing::random_vector(static_cast<size_t>(n), 42, -0.5, 0.5);
  const TestBatch batch(2, 5, static_cast<int>(m.vocab_size), 17, c.documents);

  std::vector<double> grads(static_cast<size_t>(n), 0.0);
  decoder.forward(params.data(), batch.view(), 1.0);
  decoder.backward(params.data(), grads.data());

  kiln::testing::expect_gradient(params, grads, [&] { return decoder.evaluate(params.data(), batch.view()); },
                                 c.name);
}

const std::vector<Override> kMup = {{"model.mup.enabled", "true"},
                                    {"model.mup.base_hidden_size", "4"},
                                    {"model.mup.embeddings_scale", "3.0"},
                                    {"model.mup.output_alpha", "2.5"},
                                    {"model.mup.scale_qk_dot_by_d", "true"}};

std::vector<Override> plus(std::vector<Override> a, const std::vector<Override>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

INSTANTIATE_TEST_SUITE_P(
    Configs, DecoderGradient,
    ::testing::Values(
        GradCase{"rotary_untied_sequential", {{"model.positions", "rotary"}, {"model.qkv_bias", "true"}}, false},
        GradCase{"rotary_documents", {{"model.positions", "rotary"}, {"model.qkv_bias", "true"}}, true},
        GradCase{"alibi_tied_linear_bias",
                 {{"model.positions", "alibi"}, {"model.tied_embeddings", "true"}, {"model.linear_bias", "true"}},
                 false},
        GradCase{"none_parallel", {{"model.positions", "none"}, {"model.parallel_residual", "true"}}, false},
        GradCase{"rotary_parallel_tied_documents",
                 {{"model.parallel_residual", "true"}, {"model.tied_embeddings", "true"}},
                 true},
        GradCase{"mup_alibi_tied_btlm",
                 plus(kMup, {{"model.positions", "alibi"},
                             {"model.tied_embeddings", "true"},
                             {"model.linear_bias", "true"},
                             {"model.qkv_bias", "true"}}),
                 true},
        GradCase{"mup_rotary_untied_parallel", plus(kMup, {{"model.parallel_residual", "true"}}), false},
        GradCase{"gelu_rmsnorm", {{"model.activation", "gelu"}, {"model.norm", "rmsnorm"}}, true},
        GradCase{"gelu_layernorm_biases",
                 {{"model.activation", "gelu"}, {"model.linear_bias", "true"}, {"model.qkv_bias", "true"}},
                 false},
        GradCase{"no_biases_anywhere",
                 {{"model.norm_bias", "false"},
                  {"model.final_norm_bias", "false"},
                  {"model.qkv_bias", "false"},
                  {"model.linear_bias", "false"}},
                 true}),
    [](const ::testing::TestParamInfo<GradCase>& info) { return info.param.name; });

}  // namespace
}  // namespace kiln
