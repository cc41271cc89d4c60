// CudaOps' fused softmax cross-entropy and its vocab-parallel trio against cpu/cross_entropy.h run
// in double on the same bf16 logits.
//
// Error model, which sets the thresholds:
//   - losses (fp32): the GPU sums ~V exponentials in fp32 (per thread in order, then a tree) with
//     __expf (relative error ~1e-7, growing by 2^-24 per unit of |z − max|); log Σ then carries a
//     relative error of a few 1e-6, i.e. an absolute error of a few 1e-6 in a loss of ~log V ≈ 12.
//     kLossTolerance = 1e-4 (absolute, plus 1e-5 relative) leaves a margin of 10–50 and still
//     catches any wrong term (a missing logit_scale or weight, a wrong target: errors ≥ 1e-2).
//   - dlogits (bf16): each element is computed in fp32 (relative error a few 1e-6, as above) and
//     rounded to bf16 once, at most 2^-8 of its value. Compared element by element relative to
//     the reference itself (no elements are near zero except masked rows, which must be exactly
//     0): kGradTolerance = 2^-8 + 1e-4.
//   - the returned sum: Σ of N losses, each within kLossTolerance.
#include "ops/cuda_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/cross_entropy.h"
#include "support/cuda_test.h"
#include "support/grad_check.h"

namespace kiln {
namespace {

using test::DeviceArray;

constexpr double kLossTolerance = 1e-4;
constexpr double kGradTolerance = 1.0 / 256 + 1e-4;

// DeviceArray uploads with cudaMemcpy on the legacy default stream, which CudaOps' non-blocking
// stream does not wait for: make sure the inputs have landed before the ops read them.
void wait_for_uploads() { test::cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

// One batch of rows: bf16 logits, targets and (optionally) a mask with zeros and a 0.5 weight.
// Masked rows get out-of-range targets (−100 and V) and, for two of them, non-finite logits:
// none of that may leak into the results.
struct Batch {
  int N, V;
  std::vector<float> logits;
  std::vector<int32_t> targets;
  std::vector<float> mask;  // empty: no mask
};

Batch make_batch(int N, int V, bool with_mask, uint32_t seed) {
  Batch b{N, V, {}, {}, {}};
  const std::vector<double> d = kiln::testing::random_vector(size_t(N) * V, seed, -4.0, 4.0);
  b.logits = test::bf16_rounded(std::vector<float>(d.begin(), d.end()));
  std::mt19937 rng(seed + 1);
  std::uniform_int_distribution<int32_t> pick(0, V - 1);
  b.targets.resize(size_t(N));
  for (auto& t : b.targets) t = pick(rng);
  if (!with_mask) return b;
  b.mask.assign(size_t(N), 1.0f);
  int masked = 0;
  for (int n = 0; n < N; ++n) {
    if (n % 5 == 1) {
      b.mask[n] = 0.0f;
      b.targets[n] = masked % 2 ? -100 : V;
      const float junk = masked == 0 ? std::numeric_limits<float>::quiet_NaN()
                                     : (masked == 1 ? std::numeric_limits<float>::infinity() : 0.0f);
      if (masked < 2) std::fill(b.logits.begin() + int64_t(n) * V, b.logits.begin() + int64_t(n + 1) * V, junk);
      ++masked;
    } else if (n % 7 == 3) {
      b.mask[n] = 0.5f;  // a fractional weight (exact in bf16)
    }
  }
  return b;
}

struct Reference {
  std::vector<double> dlogits, losses;
  double sum = 0;
};

Reference reference(const Batch& b, float logit_scale, float dloss_scale) {
  Reference r;
  const std::vector<double> logits(b.logits.begin(), b.logits.end()), mask(b.mask.begin(), b.mask.end());
  r.dlogits.resize(b.logits.size());
  r.losses.resize(size_t(b.N));
  r.sum = cpu::softmax_cross_entropy<double>(r.dlogits.data(), r.losses.data(), logits.data(), b.targets.data(),
                                             mask.empty() ? nullptr : mask.data(), b.N, b.V, logit_scale,
                                             dloss_scale);
  return r;
}

// max over elements of |gpu − ref| / |ref|, with ref = 0 requiring gpu = 0 exactly; +inf for a
// NaN (an element the op did not write) or a reference that is not finite.
double grad_error(const std::vector<float>& gpu, const std::vector<double>& ref) {
  if (gpu.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    if (std::isnan(gpu[i]) || !std::isfinite(ref[i])) return std::numeric_limits<double>::infinity();
    const double diff = std::abs(gpu[i] - ref[i]);
    if (ref[i] == 0) {
      if (diff != 0) return std::numeric_limits<double>::infinity();
      continue;
    }
    worst = std::max(worst, diff / std::abs(ref[i]));
  }
  return worst;
}

void expect_losses_near(const std::vector<float>& gpu, const std::vector<double>& ref) {
  ASSERT_EQ(gpu.size(), ref.size());
  for (size_t n = 0; n < gpu.size(); ++n)
    EXPECT_NEAR(gpu[n], ref[n], kLossTolerance + 1e-5 * std::abs(ref[n])) << "row " << n;
}

// The number of rows with a non-zero weight: what the trainer divides by (dloss_scale).
float inverse_count(const Batch& b) {
  int count = 0;
  for (int n = 0; n < b.N; ++n) count += b.mask.empty() || b.mask[n] != 0.0f;
  return 1.0f / static_cast<float>(count);
}

enum class Grad { separate, in_place, none };

void check_fused(int N, int V, float logit_scale, bool with_mask, Grad grad, uint32_t seed) {
  SCOPED_TRACE("N=" + std::to_string(N) + " V=" + std::to_string(V) + " logit_scale=" + std::to_string(logit_scale) +
               (with_mask ? " masked" : "") + (grad == Grad::in_place ? " in place" : "") +
               (grad == Grad::none ? " no dlogits" : ""));
  const Batch b = make_batch(N, V, with_mask, seed);
  const float dloss_scale = inverse_count(b);
  const Reference ref = reference(b, logit_scale, dloss_scale);

  CudaOps ops;
  DeviceArray<bf16> logits(b.logits), dlogits(grad == Grad::separate ? b.logits.size() : 0);
  DeviceArray<int32_t> targets(b.targets);
  DeviceArray<bf16> mask(b.mask.empty() ? std::vector<float>(1, 0.0f) : b.mask);
  DeviceArray<float> losses(static_cast<size_t>(N));
  wait_for_uploads();
  bf16* dl = grad == Grad::separate ? dlogits.get() : grad == Grad::in_place ? logits.get() : nullptr;
  const double sum = ops.softmax_cross_entropy(dl, losses.get(), logits.get(), targets.get(),
                                               with_mask ? mask.get() : nullptr, N, V, logit_scale, dloss_scale);

  expect_losses_near(losses.to_floats(), ref.losses);
  EXPECT_NEAR(sum, ref.sum, N * kLossTolerance + 1e-5 * std::abs(ref.sum));
  if (grad == Grad::separate) {
    EXPECT_LE(grad_error(dlogits.to_floats(), ref.dlogits), kGradTolerance);
  }
  if (grad == Grad::in_place) {
    EXPECT_LE(grad_error(logits.to_floats(), ref.dlogits), kGradTolerance);
  }
  if (grad == Grad::none) {  // evaluation: the logits are left alone
    const std::vector<float> after = logits.to_floats();
    for (size_t i = 0; i < after.size(); ++i)
      if (!(after[i] == b.logits[i] || (std::isnan(after[i]) && std::isnan(b.logits[i])))) {
        ADD_FAILURE() << "logits[" << i << "] changed without dlogits";
        break;
      }
  }
}

TEST(CudaOpsCrossEntropy, SmallVocabulary) {
  KILN_SKIP_WITHOUT_GPU();
  check_fused(37, 512, 1.0f, true, Grad::separate, 1);
  check_fused(37, 512, 1.0f, false, Grad::in_place, 2);
}

TEST(CudaOpsCrossEntropy, VocabularyNotAMultipleOfEight) {
  KILN_SKIP_WITHOUT_GPU();
  // 1000 is a multiple of 8 (16-byte path); 1001 and 77 are not (element-by-element path).
  check_fused(23, 1000, 0.222f, true, Grad::separate, 3);
  check_fused(23, 1001, 0.222f, true, Grad::separate, 4);
  check_fused(23, 1001, 1.0f, false, Grad::in_place, 5);
  check_fused(9, 77, 2.5f, true, Grad::in_place, 6);
}

TEST(CudaOpsCrossEntropy, StableLm2Vocabulary) {
  KILN_SKIP_WITHOUT_GPU();
  // V = 100352 (Stable LM 2), µP-style logit scale, in place as the decoder runs it.
  check_fused(24, 100352, 0.222f, true, Grad::in_place, 7);
  check_fused(8, 100352, 1.0f, false, Grad::separate, 8);
}

TEST(CudaOpsCrossEntropy, EvaluationWithoutGradient) {
  KILN_SKIP_WITHOUT_GPU();
  check_fused(31, 1000, 0.222f, true, Grad::none, 9);
  check_fused(31, 1001, 1.0f, false, Grad::none, 10);
}

// Same inputs, same bits (fixed reduction order).
TEST(CudaOpsCrossEntropy, RepeatedCallsGiveIdenticalBits) {
  KILN_SKIP_WITHOUT_GPU();
  const Batch b = make_batch(40, 5000, true, 11);
  CudaOps ops;
  DeviceArray<bf16> logits(b.logits), mask(b.mask), d1(b.logits.size()), d2(b.logits.size());
  DeviceArray<int32_t> targets(b.targets);
  DeviceArray<float> l1(size_t(b.N)), l2(size_t(b.N));
  wait_for_uploads();
  const double s1 = ops.softmax_cross_entropy(d1.get(), l1.get(), logits.get(), targets.get(), mask.get(), b.N, b.V,
                                              0.5f, 0.01f);
  const double s2 = ops.softmax_cross_entropy(d2.get(), l2.get(), logits.get(), targets.get(), mask.get(), b.N, b.V,
                                              0.5f, 0.01f);
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(l1.to_floats(), l2.to_floats());
  EXPECT_EQ(d1.to_floats(), d2.to_floats());
}

TEST(CudaOpsCrossEntropy, BadShapesThrow) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  EXPECT_THROW(ops.softmax_cross_entropy(nullptr, nullptr, nullptr, nullptr, nullptr, -1, 10, 1.0f, 1.0f),
               std::invalid_argument);
  EXPECT_THROW(ops.softmax_cross_entropy(nullptr, nullptr, nullptr, nullptr, nullptr, 4, 0, 1.0f, 1.0f),
               std::invalid_argument);
  EXPECT_EQ(ops.softmax_cross_entropy(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 10, 1.0f, 1.0f), 0.0);
}

// ---- vocab-parallel: the trio on `parts` vocabulary shards, with the all-reduces done on the
// host, must give the unsharded reference's losses, sum and (assembled) dlogits. ----

void check_vocab_parallel(int N, int V, int parts, float logit_scale, bool with_mask, Grad grad, uint32_t seed) {
  SCOPED_TRACE("N=" + std::to_string(N) + " V=" + std::to_string(V) + " parts=" + std::to_string(parts) +
               (with_mask ? " masked" : "") + (grad == Grad::in_place ? " in place" : "") +
               (grad == Grad::none ? " no dlogits" : ""));
  ASSERT_EQ(V % parts, 0);
  const int V_local = V / parts;
  const Batch b = make_batch(N, V, with_mask, seed);
  const float dloss_scale = inverse_count(b);
  const Reference ref = reference(b, logit_scale, dloss_scale);

  CudaOps ops;
  DeviceArray<int32_t> targets(b.targets);
  DeviceArray<bf16> mask(b.mask.empty() ? std::vector<float>(1, 0.0f) : b.mask);
  const bf16* mask_ptr = with_mask ? mask.get() : nullptr;
  std::vector<std::unique_ptr<DeviceArray<bf16>>> shard_logits, shard_dlogits;
  for (int p = 0; p < parts; ++p) {
    std::vector<float> shard(size_t(N) * V_local);
    for (int n = 0; n < N; ++n)
      std::copy_n(b.logits.begin() + int64_t(n) * V + int64_t(p) * V_local, V_local,
                  shard.begin() + int64_t(n) * V_local);
    shard_logits.push_back(std::make_unique<DeviceArray<bf16>>(shard));
    shard_dlogits.push_back(std::make_unique<DeviceArray<bf16>>(grad == Grad::separate ? shard.size() : 0));
  }
  DeviceArray<float> row_max(static_cast<size_t>(N)), sums(2 * static_cast<size_t>(N)),
      losses(static_cast<size_t>(N));
  wait_for_uploads();

  // 1. Local maxima, all-reduced (MAX) on the host.
  std::vector<float> global_max(size_t(N), -std::numeric_limits<float>::infinity());
  for (int p = 0; p < parts; ++p) {
    ops.vocab_parallel_ce_max(row_max.get(), shard_logits[p]->get(), mask_ptr, N, V_local, logit_scale);
    const std::vector<float> local = row_max.to_floats();
    for (int n = 0; n < N; ++n) global_max[n] = std::max(global_max[n], local[n]);
  }
  row_max.upload(global_max);
  wait_for_uploads();
  // Masked rows: 0 on every shard; others: the row's largest scaled logit.
  for (int n = 0; n < N; ++n) {
    if (with_mask && b.mask[n] == 0.0f) {
      EXPECT_EQ(global_max[n], 0.0f) << "row " << n;
      continue;
    }
    double expected = -std::numeric_limits<double>::infinity();
    for (int v = 0; v < V; ++v) expected = std::max(expected, double(logit_scale) * b.logits[size_t(n) * V + v]);
    EXPECT_NEAR(global_max[n], expected, 1e-6 * std::abs(expected)) << "row " << n;
  }

  // 2. Local sums and target logits, all-reduced (SUM, shards in order) on the host.
  std::vector<float> global_sums(2 * size_t(N), 0.0f);
  for (int p = 0; p < parts; ++p) {
    ops.vocab_parallel_ce_sums(sums.get(), shard_logits[p]->get(), targets.get(), mask_ptr, row_max.get(), N, V_local,
                               p * V_local, logit_scale);
    const std::vector<float> local = sums.to_floats();
    for (size_t i = 0; i < local.size(); ++i) global_sums[i] += local[i];
  }
  sums.upload(global_sums);
  wait_for_uploads();

  // 3. Every shard finishes: identical losses and sum everywhere, its slice of dlogits.
  std::vector<float> dlogits(size_t(N) * V);
  double first_sum = 0;
  std::vector<float> first_losses;
  for (int p = 0; p < parts; ++p) {
    bf16* dl = grad == Grad::separate  ? shard_dlogits[p]->get()
               : grad == Grad::in_place ? shard_logits[p]->get()
                                        : nullptr;
    const double sum = ops.vocab_parallel_ce_finish(dl, losses.get(), shard_logits[p]->get(), targets.get(), mask_ptr,
                                                    row_max.get(), sums.get(), N, V_local, p * V_local, logit_scale,
                                                    dloss_scale);
    const std::vector<float> l = losses.to_floats();
    if (p == 0) {
      first_sum = sum;
      first_losses = l;
      expect_losses_near(l, ref.losses);
      EXPECT_NEAR(sum, ref.sum, N * kLossTolerance + 1e-5 * std::abs(ref.sum));
    } else {
      EXPECT_EQ(sum, first_sum) << "shard " << p;
      EXPECT_EQ(l, first_losses) << "shard " << p;
    }
    if (dl) {
      const std::vector<float> local =
          grad == Grad::separate ? shard_dlogits[p]->to_floats() : shard_logits[p]->to_floats();
      for (int n = 0; n < N; ++n)
        std::copy_n(local.begin() + int64_t(n) * V_local, V_local,
                    dlogits.begin() + int64_t(n) * V + int64_t(p) * V_local);
    }
  }
  if (grad != Grad::none) {
    EXPECT_LE(grad_error(dlogits, ref.dlogits), kGradTolerance);
  }
}

TEST(CudaOpsCrossEntropy, VocabParallelTwoShards) {
  KILN_SKIP_WITHOUT_GPU();
  check_vocab_parallel(29, 1000, 2, 0.222f, true, Grad::separate, 21);  // 500 per shard: not a multiple of 8
  check_vocab_parallel(29, 4096, 2, 1.0f, false, Grad::in_place, 22);   // 2048 per shard: 16-byte path
}

TEST(CudaOpsCrossEntropy, VocabParallelFourShards) {
  KILN_SKIP_WITHOUT_GPU();
  check_vocab_parallel(29, 1000, 4, 1.0f, true, Grad::in_place, 23);          // 250 per shard
  check_vocab_parallel(12, 100352, 4, 0.222f, true, Grad::in_place, 24);      // Stable LM 2 over TP = 4
  check_vocab_parallel(17, 1004, 4, 0.222f, false, Grad::none, 25);           // evaluation
}

}  // namespace
}  // namespace kiln
