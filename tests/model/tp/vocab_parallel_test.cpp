// The vocab-parallel pieces against their unsharded forms, on the job's TP group: the
// cross-entropy (losses, their sum, d logits) and the embedding lookup and its gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/tensor_parallel.h"
#include "model/tp/tp_test_env.h"
#include "ops/cpu_ops.h"
#include "support/grad_check.h"

namespace kiln::tp_test {
namespace {

// Columns [begin, begin + width) of a [rows, cols] row-major matrix.
template <class Real>
std::vector<Real> columns(const std::vector<Real>& m, int rows, int cols, int begin, int width) {
  std::vector<Real> out(static_cast<size_t>(rows) * width);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < width; ++c) out[static_cast<size_t>(r) * width + c] = m[static_cast<size_t>(r) * cols + begin + c];
  return out;
}

template <class Real>
void check_cross_entropy(bool in_place, bool with_grad, double tol) {
  Communicator& comm = tp_group();
  const int N = 9, V = 48, Vl = V / comm.size(), begin = comm.rank() * Vl;
  const auto raw = kiln::testing::random_vector(static_cast<size_t>(N) * V, 5, -4.0, 4.0);
  std::vector<Real> logits(raw.begin(), raw.end());
  // Row 1: a huge logit on the last rank's block, the target on the first rank's: the max and the
  // target live on different ranks, and only the max-subtraction keeps e^z finite.
  logits[1 * V + V - 1] = Real(300);
  std::vector<int32_t> targets(N);
  std::vector<Real> mask(N, Real(1));
  for (int n = 0; n < N; ++n) targets[n] = static_cast<int32_t>((n * 17 + 3) % V);
  targets[1] = 0;
  mask[4] = 0;
  targets[4] = -100;  // masked: never read
  const Real logit_scale = Real(0.7), dloss_scale = Real(0.3);

  CpuOps<Real> ops;
  std::vector<Real> ref_d(logits.size()), ref_loss(N);
  const double ref_total = ops.softmax_cross_entropy(ref_d.data(), ref_loss.data(), logits.data(), targets.data(),
                                                     mask.data(), N, V, logit_scale, dloss_scale);

  std::vector<Real> local = columns(logits, N, V, begin, Vl);
  std::vector<Real> d(local.size(), Real(-7)), loss(N, Real(-7)), stats(3 * N);
  Real* dlogits = with_grad ? (in_place ? local.data() : d.data()) : nullptr;
  const double total = vocab_parallel_cross_entropy(ops, &comm, dlogits, loss.data(), local.data(), targets.data(),
                                                    mask.data(), N, Vl, begin, logit_scale, dloss_scale, stats.data());
  EXPECT_NEAR(total, ref_total, tol * std::fabs(ref_total));
  EXPECT_LT(max_abs_diff(loss, ref_loss), tol * max_abs(ref_loss));
  EXPECT_EQ(loss[4], Real(0));
  if (with_grad) {
    const std::vector<Real> got(dlogits, dlogits + local.size());
    EXPECT_LT(max_abs_diff(got, columns(ref_d, N, V, begin, Vl)), tol * max_abs(ref_d));
  } else {
    EXPECT_EQ(max_abs(d), 7.0);  // untouched
  }
}

TEST(VocabParallelCrossEntropy, MatchesUnshardedDouble) { check_cross_entropy<double>(false, true, 1e-13); }
TEST(VocabParallelCrossEntropy, MatchesUnshardedInPlace) { check_cross_entropy<double>(true, true, 1e-13); }
TEST(VocabParallelCrossEntropy, EvaluationWritesNoGradient) { check_cross_entropy<double>(false, false, 1e-13); }
TEST(VocabParallelCrossEntropy, MatchesUnshardedFloat) { check_cross_entropy<float>(true, true, 1e-5); }

TEST(VocabParallelEmbedding, SumOverRanksIsTheLookupAndGradientsAreTheRanksRows) {
  Communicator& comm = tp_group();
  const int N = 11, V = 32, C = 6, Vl = V / comm.size(), begin = comm.rank() * Vl;
  const double scale = 1.5;
  const std::vector<double> wte = kiln::testing::random_vector(static_cast<size_t>(V) * C, 8);
  const std::vector<double> dout = kiln::testing::random_vector(static_cast<size_t>(N) * C, 9);
  std::vector<int32_t> ids(N);
  for (int n = 0; n < N; ++n) ids[n] = static_cast<int32_t>((n * 13 + 5) % V);
  ids[3] = ids[7];  // a repeated token accumulates

  CpuOps<double> ops;
  std::vector<double> ref(static_cast<size_t>(N) * C), ref_dwte(wte.size(), 0.0);
  ops.embedding_forward(ref.data(), ids.data(), wte.data(), N, V, C, scale);
  ops.embedding_backward(ref_dwte.data(), dout.data(), ids.data(), N, V, C, scale);

  const std::vector<double> shard(wte.begin() + static_cast<ptrdiff_t>(begin) * C,
                                  wte.begin() + static_cast<ptrdiff_t>(begin + Vl) * C);
  std::vector<double> out(ref.size(), -1.0), dshard(shard.size(), 0.0);
  ops.embedding_forward_vocab_range(out.data(), ids.data(), shard.data(), N, begin, Vl, C, scale);
  comm.all_reduce(out.data(), out.size(), CommDType::fp64, ReduceOp::sum);
  EXPECT_EQ(max_abs_diff(out, ref), 0.0);  // one non-zero term per element: exact

  ops.embedding_backward_vocab_range(dshard.data(), dout.data(), ids.data(), N, begin, Vl, C, scale);
  const std::vector<double> ref_rows(ref_dwte.begin() + static_cast<ptrdiff_t>(begin) * C,
                                     ref_dwte.begin() + static_cast<ptrdiff_t>(begin + Vl) * C);
  EXPECT_EQ(max_abs_diff(dshard, ref_rows), 0.0);
}

}  // namespace
}  // namespace kiln::tp_test
