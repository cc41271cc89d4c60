#include "cpu/cross_entropy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "support/grad_check.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using kiln::cpu::softmax_cross_entropy;
using kiln::testing::expect_gradient;
using kiln::testing::random_vector;

constexpr int N = 5, V = 11;

// Targets cover the first and last vocabulary entries. The masked tokens (1 and 4) carry targets
// outside [0, V), which a masked token is allowed to have.
const std::vector<int32_t> kTargets = {0, -100, 10, 4, V};
const std::vector<double> kMask = {1, 0, 1, 1, 0};
constexpr double kMupLogitScale = 2.22 * 0.1;

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// The mask is a per-token weight: 0/1 in practice, but the gradient is right for any weight, and
// fractional weights catch a weight applied to only part of the gradient.
const std::vector<double> kWeights = {0.5, 0, 1, 2, 0};

struct Case {
  const std::vector<double>* mask;  // null: no mask
  double logit_scale;
  const double* mask_data() const { return mask ? mask->data() : nullptr; }
  std::string name() const {
    std::string s = !mask ? "no mask" : mask == &kMask ? "0/1 mask" : "weights";
    s += ", logit_scale ";
    s += std::to_string(logit_scale);
    return s;
  }
};
const Case kCases[] = {{nullptr, 1.0},
                       {&kMask, 1.0},
                       {&kWeights, 1.0},
                       {nullptr, kMupLogitScale},
                       {&kMask, kMupLogitScale},
                       {&kWeights, kMupLogitScale}};

// Unmasked targets for the no-mask cases (every token counts, so every target must be valid).
const std::vector<int32_t> kAllValidTargets = {0, 7, 10, 4, 2};

const std::vector<int32_t>& targets_for(const Case& c) {
  return c.mask ? kTargets : kAllValidTargets;
}

// Per-token losses from the definition: −log softmax(scale·logits)[t], times the mask.
std::vector<double> naive_losses(const std::vector<double>& logits,
                                 const std::vector<int32_t>& targets, const double* mask,
                                 double scale, int rows, int vocab) {
  std::vector<double> losses(rows, 0.0);
  for (int n = 0; n < rows; ++n) {
    const double w = mask ? mask[n] : 1.0;
    if (w == 0) continue;
    double zmax = -std::numeric_limits<double>::infinity();
    for (int v = 0; v < vocab; ++v) zmax = std::max(zmax, scale * logits[n * vocab + v]);
    double sum = 0;
    for (int v = 0; v < vocab; ++v) sum += std::exp(scale * logits[n * vocab + v] - zmax);
    const double log_p = scale * logits[n * vocab + targets[n]] - zmax - std::log(sum);
    losses[n] = -w * log_p;
  }
  return losses;
}

// What the caller would pass as 1/dloss_scale: the total weight (the number of unmasked tokens).
double total_weight(const Case& c) {
  if (!c.mask) return N;
  double k = 0;
  for (double m : *c.mask) k += m;
  return k;
}

TEST(CrossEntropy, ForwardMatchesNaive) {
  const auto logits = random_vector(N * V, 1, -3.0, 3.0);
  for (const auto& c : kCases) {
    const auto& targets = targets_for(c);
    const double* mask = c.mask_data();
    const auto ref = naive_losses(logits, targets, mask, c.logit_scale, N, V);
    std::vector<double> losses(N, -1.0), dlogits(N * V);
    const double total = softmax_cross_entropy(dlogits.data(), losses.data(), logits.data(),
                                               targets.data(), mask, N, V, c.logit_scale, 1.0);
    double ref_total = 0;
    for (int n = 0; n < N; ++n) {
      EXPECT_NEAR(losses[n], ref[n], 1e-13) << c.name() << " n=" << n;
      ref_total += ref[n];
    }
    EXPECT_NEAR(total, ref_total, 1e-12) << c.name();
  }
}

// loss = dloss_scale · Σ_n mask·CE: exactly what dlogits is the gradient of.
TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  for (const auto& c : kCases) {
    auto logits = random_vector(N * V, 2, -3.0, 3.0);
    const auto& targets = targets_for(c);
    const double* mask = c.mask_data();
    const double dloss_scale = 1.0 / total_weight(c);

    std::vector<double> losses(N), dlogits(N * V, 99.0);  // garbage: must be overwritten
    softmax_cross_entropy(dlogits.data(), losses.data(), logits.data(), targets.data(), mask, N, V,
                          c.logit_scale, dloss_scale);
    auto loss = [&] {
      std::vector<double> l(N);
      return dloss_scale * softmax_cross_entropy(static_cast<double*>(nullptr), l.data(),
                                                 logits.data(), targets.data(), mask, N, V,
                                                 c.logit_scale, dloss_scale);
    };
    expect_gradient(logits, dlogits, loss, "dlogits, " + c.name());

    // Each row of (softmax − onehot) sums to zero; masked rows are exactly zero.
    for (int n = 0; n < N; ++n) {
      double row_sum = 0;
      for (int v = 0; v < V; ++v) row_sum += dlogits[n * V + v];
      EXPECT_NEAR(row_sum, 0.0, 1e-15) << c.name() << " n=" << n;
      if (mask && mask[n] == 0) {
        for (int v = 0; v < V; ++v) EXPECT_EQ(dlogits[n * V + v], 0.0) << c.name() << " n=" << n;
      }
    }
  }
}

// Masked rows are not read at all: non-finite logits there change nothing.
TEST(CrossEntropy, MaskedRowsAreIgnored) {
  auto logits = random_vector(N * V, 3, -3.0, 3.0);
  std::vector<double> losses(N), dlogits(N * V);
  const double clean = softmax_cross_entropy(dlogits.data(), losses.data(), logits.data(),
                                             kTargets.data(), kMask.data(), N, V, 1.0, 0.5);
  for (int v = 0; v < V; ++v) {
    logits[1 * V + v] = std::numeric_limits<double>::quiet_NaN();
    logits[4 * V + v] = std::numeric_limits<double>::infinity();
  }
  std::vector<double> losses2(N), dlogits2(N * V);
  const double dirty = softmax_cross_entropy(dlogits2.data(), losses2.data(), logits.data(),
                                             kTargets.data(), kMask.data(), N, V, 1.0, 0.5);
  EXPECT_EQ(clean, dirty);
  EXPECT_EQ(losses, losses2);
  EXPECT_EQ(dlogits, dlogits2);
  EXPECT_EQ(losses[1], 0.0);
  EXPECT_EQ(losses[4], 0.0);
}

// dlogits may overwrite logits; the result is the same as out of place, and so is the result of
// a loss-only call.
TEST(CrossEntropy, InPlaceAndLossOnlyAgree) {
  const auto logits = random_vector(N * V, 4, -3.0, 3.0);
  std::vector<double> losses(N), dlogits(N * V);
  const double total = softmax_cross_entropy(dlogits.data(), losses.data(), logits.data(),
                                             kTargets.data(), kMask.data(), N, V,
                                             kMupLogitScale, 1.0 / 3);
  auto buf = logits;
  std::vector<double> losses_in_place(N);
  const double total_in_place =
      softmax_cross_entropy(buf.data(), losses_in_place.data(), buf.data(), kTargets.data(),
                            kMask.data(), N, V, kMupLogitScale, 1.0 / 3);
  EXPECT_EQ(total_in_place, total);
  EXPECT_EQ(losses_in_place, losses);
  EXPECT_EQ(buf, dlogits);

  std::vector<double> losses_only(N);
  const double total_only =
      softmax_cross_entropy(static_cast<double*>(nullptr), losses_only.data(), logits.data(),
                            kTargets.data(), kMask.data(), N, V, kMupLogitScale, 1.0 / 3);
  EXPECT_EQ(total_only, total);
  EXPECT_EQ(losses_only, losses);
}

// Logits of magnitude 1000 overflow e^x in any precision without the max subtraction.
TEST(CrossEntropy, LargeLogitsAreStable) {
  auto logits = random_vector(N * V, 5, -1000.0, 1000.0);
  const auto ref = naive_losses(logits, kTargets, kMask.data(), 1.0, N, V);
  std::vector<double> losses(N), dlogits(N * V);
  softmax_cross_entropy(dlogits.data(), losses.data(), logits.data(), kTargets.data(),
                        kMask.data(), N, V, 1.0, 1.0);
  for (int n = 0; n < N; ++n) EXPECT_NEAR(losses[n], ref[n], 1e-9 * std::max(1.0, ref[n])) << n;

  const auto lf = to_float(logits), mf = to_float(kMask);
  std::vector<float> losses_f(N), dlogits_f(N * V);
  softmax_cross_entropy(dlogits_f.data(), losses_f.data(), lf.data(), kTargets.data(), mf.data(),
                        N, V, 1.0f, 1.0f);
  for (int n = 0; n < N; ++n) {
    EXPECT_TRUE(std::isfinite(losses_f[n])) << n;
    EXPECT_NEAR(losses_f[n], ref[n], 1e-5 * std::max(1.0, ref[n])) << n;
  }
  for (int i = 0; i < N * V; ++i) EXPECT_TRUE(std::isfinite(dlogits_f[i])) << i;
}

TEST(CrossEntropy, FloatMatchesDouble) {
  for (const auto& c : kCases) {
    const auto logits = random_vector(N * V, 6, -5.0, 5.0);
    const auto& targets = targets_for(c);
    const double dloss_scale = 1.0 / total_weight(c);
    std::vector<double> losses(N), dlogits(N * V);
    const double total = softmax_cross_entropy(dlogits.data(), losses.data(), logits.data(),
                                               targets.data(), c.mask_data(),
                                               N, V, c.logit_scale, dloss_scale);
    const auto lf = to_float(logits);
    const auto mf = to_float(c.mask ? *c.mask : kMask);
    std::vector<float> losses_f(N), dlogits_f(N * V);
    const double total_f = softmax_cross_entropy(
        dlogits_f.data(), losses_f.data(), lf.data(), targets.data(),
        c.mask ? mf.data() : nullptr, N, V, float(c.logit_scale), float(dloss_scale));
    EXPECT_NEAR(total_f, total, 1e-5 * std::max(1.0, total)) << c.name();
    for (int n = 0; n < N; ++n)
      EXPECT_NEAR(losses_f[n], losses[n], 1e-5 * std::max(1.0, losses[n])) << c.name();
    for (int i = 0; i < N * V; ++i) EXPECT_NEAR(dlogits_f[i], dlogits[i], 1e-6) << c.name();
  }
}

#ifdef _OPENMP
TEST(CrossEntropy, DoesNotDependOnThreadCount) {
  const int rows = 300, vocab = 101;
  const auto logits = to_float(random_vector(size_t(rows) * vocab, 7, -4.0, 4.0));
  std::vector<int32_t> targets(rows);
  std::vector<float> mask(rows);
  for (int n = 0; n < rows; ++n) {
    mask[n] = n % 7 == 3 ? 0.0f : 1.0f;
    targets[n] = mask[n] == 0 ? -1 : (n * 13) % vocab;
  }
  const int saved = omp_get_max_threads();
  std::vector<double> totals;
  std::vector<std::vector<float>> grads;
  for (int threads : {1, 3, 4}) {
    omp_set_num_threads(threads);
    std::vector<float> losses(rows), dlogits(size_t(rows) * vocab);
    totals.push_back(softmax_cross_entropy(dlogits.data(), losses.data(), logits.data(),
                                           targets.data(), mask.data(), rows, vocab, 0.222f,
                                           1.0f / 257));
    grads.push_back(dlogits);
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(totals[0], totals[1]);
  EXPECT_EQ(totals[0], totals[2]);
  EXPECT_EQ(grads[0], grads[1]);
  EXPECT_EQ(grads[0], grads[2]);
}
#endif

#ifndef NDEBUG
TEST(CrossEntropyDeathTest, UnmaskedTargetOutOfRangeAsserts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto logits = random_vector(N * V, 8);
  std::vector<double> losses(N);
  const std::vector<int32_t> bad = {0, 1, V, 2, 3};  // token 2 is unmasked
  EXPECT_DEATH(softmax_cross_entropy(static_cast<double*>(nullptr), losses.data(), logits.data(),
                                     bad.data(), static_cast<const double*>(nullptr), N, V, 1.0,
                                     1.0),
               "unmasked target outside");
}
#endif

}  // namespace
