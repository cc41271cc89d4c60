#include "cpu/embedding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "support/grad_check.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using kiln::cpu::embedding_backward;
using kiln::cpu::embedding_forward;
using kiln::testing::expect_gradient;
using kiln::testing::random_vector;
using kiln::testing::weighted_sum;

// Small odd sizes, so that a swapped index or stride shows up as a wrong value. Token 3 occurs
// twice (its gradient row must sum both), the first and last vocabulary rows are used, and
// several rows are not used at all (their gradient must stay untouched).
constexpr int N = 5, V = 11, C = 7;
const std::vector<int32_t> kIds = {3, 0, 10, 3, 6};

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

std::vector<double> forward(const std::vector<double>& wte, double scale) {
  std::vector<double> out(N * C);
  embedding_forward(out.data(), kIds.data(), wte.data(), N, V, C, scale);
  return out;
}

TEST(Embedding, ForwardMatchesNaive) {
  const auto wte = random_vector(V * C, 1);
  for (double scale : {1.0, 14.6}) {
    const auto out = forward(wte, scale);
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c)
        EXPECT_DOUBLE_EQ(out[n * C + c], wte[kIds[n] * C + c] * scale)
            << "n=" << n << " c=" << c << " scale=" << scale;
  }
}

TEST(Embedding, GradientOfTableMatchesFiniteDifferences) {
  for (double scale : {1.0, 14.6}) {
    auto wte = random_vector(V * C, 2);
    const auto w = random_vector(N * C, 3);  // dloss/dout
    std::vector<double> dwte(V * C, 0.0);
    embedding_backward(dwte.data(), w.data(), kIds.data(), N, V, C, scale);
    expect_gradient(wte, dwte, [&] { return weighted_sum(forward(wte, scale), w); },
                    "dwte scale=" + std::to_string(scale));
    // Rows of tokens that do not occur get exactly nothing.
    for (int v : {1, 2, 4, 5, 7, 8, 9})
      for (int c = 0; c < C; ++c) EXPECT_EQ(dwte[v * C + c], 0.0) << "row " << v;
  }
}

TEST(Embedding, BackwardAccumulates) {
  const auto w = random_vector(N * C, 4);
  std::vector<double> once(V * C, 0.0);
  embedding_backward(once.data(), w.data(), kIds.data(), N, V, C, 2.0);

  std::vector<double> twice(V * C, 0.0);
  embedding_backward(twice.data(), w.data(), kIds.data(), N, V, C, 2.0);
  embedding_backward(twice.data(), w.data(), kIds.data(), N, V, C, 2.0);
  for (int i = 0; i < V * C; ++i) EXPECT_DOUBLE_EQ(twice[i], 2 * once[i]) << i;

  // Existing contents are added to, not replaced.
  std::vector<double> preset(V * C, 0.5);
  embedding_backward(preset.data(), w.data(), kIds.data(), N, V, C, 2.0);
  for (int i = 0; i < V * C; ++i) EXPECT_DOUBLE_EQ(preset[i], 0.5 + once[i]) << i;
}

TEST(Embedding, FloatMatchesDouble) {
  const auto wte = random_vector(V * C, 5);
  const auto w = random_vector(N * C, 6);
  const double scale = 14.6;

  const auto out_d = forward(wte, scale);
  std::vector<double> dwte_d(V * C, 0.0);
  embedding_backward(dwte_d.data(), w.data(), kIds.data(), N, V, C, scale);

  const auto wte_f = to_float(wte);
  const auto w_f = to_float(w);
  std::vector<float> out_f(N * C), dwte_f(V * C, 0.0f);
  embedding_forward(out_f.data(), kIds.data(), wte_f.data(), N, V, C, float(scale));
  embedding_backward(dwte_f.data(), w_f.data(), kIds.data(), N, V, C, float(scale));

  for (int i = 0; i < N * C; ++i)
    EXPECT_NEAR(out_f[i], out_d[i], 1e-5 * std::fabs(out_d[i]) + 1e-6);
  for (int i = 0; i < V * C; ++i)
    EXPECT_NEAR(dwte_f[i], dwte_d[i], 1e-5 * std::fabs(dwte_d[i]) + 1e-6);
}

#ifdef _OPENMP
// Many tokens sharing few ids, big enough to run threaded, C not a multiple of the channel block:
// the accumulated table must be bitwise the same for any number of threads.
TEST(Embedding, BackwardDoesNotDependOnThreadCount) {
  const int n_tok = 600, vocab = 13, ch = 150;
  std::vector<int32_t> ids(n_tok);
  for (int n = 0; n < n_tok; ++n) ids[n] = (n * 7) % vocab;
  const auto dout = to_float(random_vector(size_t(n_tok) * ch, 7));

  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 3, 4}) {
    omp_set_num_threads(threads);
    std::vector<float> dwte(size_t(vocab) * ch, 0.0f);
    embedding_backward(dwte.data(), dout.data(), ids.data(), n_tok, vocab, ch, 1.5f);
    results.push_back(dwte);
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}
#endif

#ifndef NDEBUG
TEST(EmbeddingDeathTest, IdOutOfRangeAsserts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto wte = random_vector(V * C, 8);
  std::vector<double> out(N * C);
  const std::vector<int32_t> bad = {0, 1, V, 2, 3};
  EXPECT_DEATH(embedding_forward(out.data(), bad.data(), wte.data(), N, V, C, 1.0),
               "token id outside");
}
#endif

}  // namespace
