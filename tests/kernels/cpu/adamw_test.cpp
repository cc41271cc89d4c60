#include "cpu/adamw.h"

#include <gtest/gtest.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <vector>

namespace kiln::cpu {
namespace {

// One problem: the optimizer state of n elements plus the gradients of a few steps.
struct Problem {
  std::vector<float> master, m, v;
  std::vector<uint16_t> bf16;
  std::vector<std::vector<float>> grads;  // grads[s] feeds step s + 1

  Problem(int64_t n, int steps, uint32_t seed) : master(n), m(n, 0.0f), v(n, 0.0f), bf16(n, 0) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::uniform_real_distribution<float> log_scale(-3.0f, 1.0f);
    for (float& x : master) x = unit(rng);
    for (int s = 0; s < steps; ++s) {
      std::vector<float> g(n);
      // Magnitudes over four decades, as gradients of different tensors have.
      for (float& x : g) x = unit(rng) * std::pow(10.0f, log_scale(rng));
      grads.push_back(std::move(g));
    }
  }

  // Buffers starting at element `offset`, fed with the gradients of step `s` (0-based).
  AdamWBuffers buffers(int s, int64_t offset = 0, bool with_bf16 = true) {
    return {master.data() + offset, m.data() + offset, v.data() + offset,
            grads[s].data() + offset, with_bf16 ? bf16.data() + offset : nullptr};
  }
  int64_t size() const { return static_cast<int64_t>(master.size()); }
};

template <typename T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

void expect_same_state(const Problem& a, const Problem& b) {
  EXPECT_TRUE(bitwise_equal(a.master, b.master));
  EXPECT_TRUE(bitwise_equal(a.m, b.m));
  EXPECT_TRUE(bitwise_equal(a.v, b.v));
  EXPECT_TRUE(bitwise_equal(a.bf16, b.bf16));
}

// The textbook algorithm in long double, written independently of the kernel's torch-ordered fp32
// arithmetic: p ← p − lr·wd·p, then the bias-corrected Adam step.
struct RefElement {
  long double p = 0, m = 0, v = 0;
  void step(long double g, long double lr, long double wd, long double beta1, long double beta2,
            long double eps, int t) {
    p -= lr * wd * p;
    m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g * g;
    const long double m_hat = m / (1 - std::pow(beta1, static_cast<long double>(t)));
    const long double v_hat = v / (1 - std::pow(beta2, static_cast<long double>(t)));
    p -= lr * m_hat / (std::sqrt(v_hat) + eps);
  }
};

#ifdef _OPENMP
// Sets the OpenMP thread count for one scope.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~ThreadCount() { omp_set_num_threads(saved_); }

 private:
  int saved_;
};
#endif

TEST(AdamWTest, HandWorkedTwoSteps) {
  // p0 = 1, lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01; g1 = 0.5, g2 = −0.25.
  // Step 1: p = 1·(1 − 0.1·0.01) = 0.999; m = 0.1·0.5 = 0.05; v = 0.001·0.25 = 0.00025;
  //   m̂ = 0.05/0.1 = 0.5; v̂ = 0.00025/0.001 = 0.25; update = 0.5/(0.5 + 1e-8) = 0.99999998;
  //   p = 0.999 − 0.1·0.99999998 = 0.899000002.
  // Step 2: p = 0.899000002·0.999 = 0.898101001998; m = 0.9·0.05 − 0.1·0.25 = 0.02;
  //   v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225; m̂ = 0.02/0.19 = 0.1052631579;
  //   v̂ = 0.00031225/0.001999 = 0.1562031016, sqrt = 0.3952253807; update = 0.2663370329;
  //   p = 0.898101001998 − 0.02663370329 = 0.8714672987.
  float master = 1.0f, m = 0.0f, v = 0.0f;
  uint16_t bf16 = 0;
  AdamWStep step{.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .step = 1, .grad_scale = 1.0};

  float g = 0.5f;
  adamw_update({&master, &m, &v, &g, &bf16}, 1, 0.1, 0.01, step);
  EXPECT_NEAR(master, 0.899000002, 1e-7);
  EXPECT_NEAR(m, 0.05, 1e-9);
  EXPECT_NEAR(v, 0.00025, 1e-6 * 0.00025);

  g = -0.25f;
  step.step = 2;
  adamw_update({&master, &m, &v, &g, &bf16}, 1, 0.1, 0.01, step);
  EXPECT_NEAR(master, 0.8714672987, 1e-7);
  EXPECT_NEAR(m, 0.02, 1e-9);
  EXPECT_NEAR(v, 0.00031225, 1e-6 * 0.00031225);
}

TEST(AdamWTest, MatchesLongDoubleReferenceOverThreeSteps) {
  const int64_t n = 1000;
  const int steps = 3;
  const double lr = 3e-2, wd = 0.1, grad_scale = 0.7;
  Problem prob(n, steps, 1);
  std::vector<RefElement> ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i].p = prob.master[i];

  for (int s = 0; s < steps; ++s) {
    const AdamWStep step{
        .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = s + 1, .grad_scale = grad_scale};
    adamw_update(prob.buffers(s), n, lr, wd, step);
    for (int64_t i = 0; i < n; ++i) {
      // The kernel scales the fp32 gradient in fp32; feed the reference the same scaled value.
      const float g = prob.grads[s][i] * static_cast<float>(grad_scale);
      ref[i].step(g, lr, wd, 0.9L, 0.95L, 1e-8L, s + 1);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    // Weights are O(1) and fp32 carries ~7 digits; moments are checked relative to their size.
    EXPECT_NEAR(prob.master[i], static_cast<double>(ref[i].p), 1e-6) << "element " << i;
    EXPECT_NEAR(prob.m[i], static_cast<double>(ref[i].m), 1e-6 * std::fabs(ref[i].m) + 1e-9)
        << "element " << i;
    EXPECT_NEAR(prob.v[i], static_cast<double>(ref[i].v), 1e-6 * ref[i].v) << "element " << i;
  }
}

TEST(AdamWTest, FirstStepMovesEachWeightByLrAgainstItsGradient) {
  // At t = 1, m̂ = g and v̂ = g², so the update is g/(|g| + eps) ≈ sign(g) whatever |g| is:
  // bias correction is what makes the first step full-sized.
  const int64_t n = 64;
  const double lr = 1e-3;
  Problem prob(n, 1, 2);
  std::fill(prob.master.begin(), prob.master.end(), 0.0f);
  // Magnitudes from 1e-3 to 10, both signs.
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> log_scale(-3.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i)
    prob.grads[0][i] = (i % 2 == 0 ? 1.0f : -1.0f) * std::pow(10.0f, log_scale(rng));
  adamw_update(prob.buffers(0), n, lr, 0.0, {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = 1});
  for (int64_t i = 0; i < n; ++i) {
    const double expected = prob.grads[0][i] > 0 ? -lr : lr;
    // |g| >= 1e-3 here, so eps changes the step by at most 1e-5 relative.
    EXPECT_NEAR(prob.master[i], expected, 2e-5 * lr) << "element " << i << " g " << prob.grads[0][i];
  }
}

TEST(AdamWTest, WeightDecayIsDecoupledFromTheGradient) {
  const double lr = 0.01, wd = 0.1;
  const AdamWStep step{.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = 1};

  // A zero gradient leaves m = v = 0 and a zero Adam step, yet the weight still shrinks by lr·wd·p.
  {
    float master[2] = {2.0f, -0.5f}, m[2] = {}, v[2] = {}, g[2] = {};
    adamw_update({master, m, v, g, nullptr}, 2, lr, wd, step);
    EXPECT_NEAR(master[0], 2.0 * (1 - lr * wd), 1e-7);
    EXPECT_NEAR(master[1], -0.5 * (1 - lr * wd), 1e-7);
    EXPECT_EQ(m[0], 0.0f);
    EXPECT_EQ(v[0], 0.0f);
  }

  // With gradients, the decay term is lr·wd·p whatever the gradient's size: it is not divided by
  // sqrt(v̂) as an L2 penalty folded into the gradient would be.
  for (float grad : {1e-4f, 1.0f, 100.0f}) {
    float with[1] = {2.0f}, without[1] = {2.0f};
    float m1[1] = {}, v1[1] = {}, m2[1] = {}, v2[1] = {}, g[1] = {grad};
    adamw_update({with, m1, v1, g, nullptr}, 1, lr, wd, step);
    adamw_update({without, m2, v2, g, nullptr}, 1, lr, 0.0, step);
    EXPECT_NEAR(with[0] - without[0], -lr * wd * 2.0, 1e-6) << "grad " << grad;
  }
}

TEST(AdamWTest, GradScaleEqualsPreScaledGradients) {
  // Clipping passes its coefficient as grad_scale; that must be the same as scaling the gradients
  // in place first (one fp32 multiply either way), bit for bit.
  const int64_t n = 500;
  const float scale = 0.3f;
  Problem scaled(n, 2, 3), prescaled(n, 2, 3);
  for (auto& g : prescaled.grads)
    for (float& x : g) x *= scale;
  for (int s = 0; s < 2; ++s) {
    adamw_update(scaled.buffers(s), n, 1e-2, 0.1,
                 {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = s + 1, .grad_scale = scale});
    adamw_update(prescaled.buffers(s), n, 1e-2, 0.1,
                 {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = s + 1, .grad_scale = 1.0});
  }
  expect_same_state(scaled, prescaled);
}

TEST(AdamWTest, GroupsApplyTheirScaleAndDecayToTheirRanges) {
  // A µP-like layout: matrix, bias, matrix, norm, an uncovered padding element, norm.
  // Groups listed out of order on purpose.
  const std::vector<AdamWGroupRange> groups = {
      {.begin = 6, .end = 10, .lr_scale = 0.1, .weight_decay = 0.1},  // hidden matrix
      {.begin = 0, .end = 4, .lr_scale = 0.1, .weight_decay = 0.1},   // hidden matrix
      {.begin = 4, .end = 6, .lr_scale = 1.0, .weight_decay = 0.0},   // bias
      {.begin = 11, .end = 12, .lr_scale = 1.0, .weight_decay = 0.0}, // norm; 10 is padding
  };
  const int64_t n = 12;
  const double base_lr = 1e-2;
  Problem grouped(n, 2, 4), manual(n, 2, 4);
  for (int s = 0; s < 2; ++s) {
    const AdamWStep step{.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = s + 1};
    adamw_update_groups(grouped.buffers(s), 0, n, groups, base_lr, step);
    for (const AdamWGroupRange& r : groups)
      adamw_update(manual.buffers(s, r.begin), r.end - r.begin, base_lr * r.lr_scale,
                   r.weight_decay, step);
  }
  expect_same_state(grouped, manual);

  // Element 10 is in no group: untouched, bf16 copy included.
  Problem initial(n, 2, 4);
  EXPECT_EQ(grouped.master[10], initial.master[10]);
  EXPECT_EQ(grouped.m[10], 0.0f);
  EXPECT_EQ(grouped.v[10], 0.0f);
  EXPECT_EQ(grouped.bf16[10], 0);

  // And the groups really differ: on step 1 from zero weights a full-lr element moves by ~lr and a
  // scaled one by ~0.1·lr; with zero gradient only the decayed group shrinks.
  {
    float master[12] = {}, m[12] = {}, v[12] = {}, g[12];
    std::fill(g, g + 12, 1.0f);
    adamw_update_groups({master, m, v, g, nullptr}, 0, n, groups, base_lr,
                        {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = 1});
    EXPECT_NEAR(master[0], -0.1 * base_lr, 1e-9);
    EXPECT_NEAR(master[4], -base_lr, 1e-8);
    EXPECT_EQ(master[10], 0.0f);
  }
  {
    float master[12], m[12] = {}, v[12] = {}, g[12] = {};
    std::fill(master, master + 12, 1.0f);
    adamw_update_groups({master, m, v, g, nullptr}, 0, n, groups, base_lr,
                        {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = 1});
    EXPECT_FLOAT_EQ(master[0], static_cast<float>(1.0 - 0.1 * base_lr * 0.1));
    EXPECT_EQ(master[4], 1.0f);   // bias: no decay
    EXPECT_EQ(master[11], 1.0f);  // norm: no decay
  }
}

TEST(AdamWTest, ShardSlicesComposeToTheWholeUpdate) {
  // ZeRO-1: three ranks own [0, 31111), [31111, 70000), [70000, 100000); the groups cut across
  // the shard boundaries. Updating each shard with shard-local buffers must equal one update of
  // [0, n), bit for bit.
  const int64_t n = 100000;
  const std::vector<AdamWGroupRange> groups = {
      {0, 20000, 0.1, 0.1},     {20000, 20500, 1.0, 0.0},  {20500, 65000, 0.1, 0.1},
      {65000, 65010, 1.0, 0.0}, {65010, 99990, 0.1, 0.1},  {99990, 100000, 1.0, 0.0},
  };
  const int64_t cuts[] = {0, 31111, 70000, n};
  Problem whole(n, 3, 5), sharded(n, 3, 5);
  for (int s = 0; s < 3; ++s) {
    const AdamWStep step{.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = s + 1, .grad_scale = 0.9};
    adamw_update_groups(whole.buffers(s), 0, n, groups, 1e-3, step);
    for (int r = 0; r < 3; ++r)
      adamw_update_groups(sharded.buffers(s, cuts[r]), cuts[r], cuts[r + 1], groups, 1e-3, step);
  }
  expect_same_state(whole, sharded);
}

// RNE reference, independent of the kernel's bit trick: decode the two bf16 neighbours of |x| into
// doubles (the pattern after the largest finite one decodes as 2^128, where rounding overflows to
// Inf), pick the nearer, and the even one on a tie.
uint16_t reference_bf16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  if (std::isnan(x)) return 0x7FC0;
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint16_t lower = static_cast<uint16_t>((bits >> 16) & 0x7FFFu);
  if (lower == 0x7F80u) return sign | lower;  // Inf
  auto decode = [](uint16_t magnitude) {
    const int exponent = magnitude >> 7;
    const int mantissa = magnitude & 0x7F;
    return exponent == 0 ? std::ldexp(mantissa / 128.0, -126)
                         : std::ldexp(1.0 + mantissa / 128.0, exponent - 127);
  };
  const double value = std::fabs(static_cast<double>(x));
  const double below = value - decode(lower);
  const double above = decode(static_cast<uint16_t>(lower + 1)) - value;
  uint16_t chosen = lower;
  if (above < below || (above == below && (lower & 1u) != 0)) chosen = lower + 1;
  return sign | chosen;
}

TEST(AdamWTest, Bf16CopyIsRoundToNearestEvenOfMaster) {
  // After real updates, every bf16 element is the RNE rounding of its new master weight.
  const int64_t n = 4096;
  Problem prob(n, 2, 6);
  for (int s = 0; s < 2; ++s)
    adamw_update(prob.buffers(s), n, 1e-2, 0.1,
                 {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = s + 1});
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(prob.bf16[i], reference_bf16(prob.master[i])) << "element " << i;

  // Edge cases, through a step that leaves the master weights as they are (lr 0, wd 0).
  struct Case { uint32_t in; uint16_t out; const char* what; };
  const Case cases[] = {
      {0x3F800000u, 0x3F80, "1.0 exactly"},
      {0x3F807FFFu, 0x3F80, "just below the halfway point"},
      {0x3F808000u, 0x3F80, "tie, kept value even: down"},
      {0x3F808001u, 0x3F81, "just above the halfway point"},
      {0x3F818000u, 0x3F82, "tie, kept value odd: up"},
      {0xBF818000u, 0xBF82, "negative tie, odd: away from zero"},
      {0x7F7FFFFFu, 0x7F80, "largest float overflows to Inf"},
      {0x7F800000u, 0x7F80, "Inf"},
      {0xFF800000u, 0xFF80, "-Inf"},
      {0x00000001u, 0x0000, "smallest subnormal rounds to zero"},
      {0x00018000u, 0x0002, "subnormal tie, odd: up"},
      {0x80000000u, 0x8000, "-0"},
  };
  const int count = static_cast<int>(std::size(cases));
  std::vector<float> master(count), m(count, 0.0f), v(count, 0.0f), g(count, 0.0f);
  std::vector<uint16_t> bf16(count, 0);
  for (int i = 0; i < count; ++i) master[i] = std::bit_cast<float>(cases[i].in);
  adamw_update({master.data(), m.data(), v.data(), g.data(), bf16.data()}, count, 0.0, 0.0,
               {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = 1});
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>(master[i]), cases[i].in) << cases[i].what;
    EXPECT_EQ(bf16[i], cases[i].out) << cases[i].what;
    EXPECT_EQ(bf16[i], reference_bf16(master[i])) << cases[i].what;
  }

  // NaN stays NaN, even one whose payload lies entirely in the bits that get dropped.
  for (uint32_t nan_bits : {0x7FC00000u, 0x7F800001u, 0xFF800001u}) {
    float p = std::bit_cast<float>(nan_bits), m1 = 0, v1 = 0, g1 = 0;
    uint16_t b = 0;
    adamw_update({&p, &m1, &v1, &g1, &b}, 1, 0.0, 0.0,
                 {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = 1});
    EXPECT_EQ(b & 0x7F80, 0x7F80) << std::hex << nan_bits;
    EXPECT_NE(b & 0x007F, 0) << std::hex << nan_bits;
  }
}

TEST(AdamWTest, BitwiseIdenticalWithOneAndTwoThreads) {
#ifndef _OPENMP
  GTEST_SKIP() << "built without OpenMP";
#else
  // An odd size, so that the threads' boundaries and any vector remainder fall differently.
  const int64_t n = 100003;
  const std::vector<AdamWGroupRange> groups = {{0, 50001, 0.1, 0.1}, {50001, n, 1.0, 0.0}};
  Problem one(n, 3, 7), two(n, 3, 7);
  for (int s = 0; s < 3; ++s) {
    const AdamWStep step{.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .step = s + 1, .grad_scale = 0.5};
    {
      ThreadCount threads(1);
      adamw_update_groups(one.buffers(s), 0, n, groups, 1e-3, step);
    }
    {
      ThreadCount threads(2);
      adamw_update_groups(two.buffers(s), 0, n, groups, 1e-3, step);
    }
  }
  expect_same_state(one, two);
#endif
}

}  // namespace
}  // namespace kiln::cpu
