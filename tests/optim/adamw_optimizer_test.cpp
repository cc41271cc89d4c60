// Parameter groups from a registry, and AdamWOptimizer against an independent double-precision
// AdamW with global-norm clipping, µP learning-rate multipliers and decay only where it belongs;
// skipped non-finite steps; fp32 and bf16 outputs; ZeRO-style slices.
#include "optim/adamw_optimizer.h"
#include "optim/param_groups.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace kiln {
namespace {

constexpr double kWd = 0.1;
constexpr double kWidthScale = 0.1;  // µP lr multiplier of hidden matrices

OptimizerConfig make_config(double grad_clip = 1.0) {
  return OptimizerConfig{/*lr=*/1e-3, /*beta1=*/0.9, /*beta2=*/0.95, /*eps=*/1e-8, /*weight_decay=*/kWd, grad_clip};
}

// A tiny µP-style model. Offsets (alignment 64):
//   embed [0, 12)  q.weight [64, 128)  o.weight [128, 192)  q.bias [192, 196)
//   norm.weight [256, 260)  lm_head [320, 328); total 384.
// q.weight and o.weight touch and share a group; q.bias touches o.weight but differs.
ParamRegistry make_registry() {
  ParamRegistry r;
  r.add("embed", {3, 4});
  r.add("layer.q.weight", {4, 16}, {.decay = true, .lr_scale = kWidthScale});
  r.add("layer.o.weight", {16, 4}, {.decay = true, .lr_scale = kWidthScale});
  r.add("layer.q.bias", {4}, {.decay = false});
  r.add("norm.weight", {4}, {.decay = false});
  r.add("lm_head", {2, 4});
  r.finalize();
  return r;
}

// ---- parameter groups ---------------------------------------------------------------------------

TEST(ParamGroups, RangesMergeTouchingTensorsOfOneGroupOnly) {
  const ParamRegistry r = make_registry();
  const std::vector<cpu::AdamWGroupRange> ranges = build_group_ranges(r, make_config());
  ASSERT_EQ(ranges.size(), 5u);
  auto expect_range = [&](size_t i, int64_t begin, int64_t end, double lr_scale, double wd) {
    SCOPED_TRACE(i);
    EXPECT_EQ(ranges[i].begin, begin);
    EXPECT_EQ(ranges[i].end, end);
    EXPECT_EQ(ranges[i].lr_scale, lr_scale);
    EXPECT_EQ(ranges[i].weight_decay, wd);
  };
  expect_range(0, 0, 12, 1.0, kWd);            // embeddings are decayed (SPEC §3)
  expect_range(1, 64, 192, kWidthScale, kWd);  // q and o merged, µP multiplier kept
  expect_range(2, 192, 196, 1.0, 0.0);         // bias: no decay; touches o but another group
  expect_range(3, 256, 260, 1.0, 0.0);         // norm: same group as the bias, but padding between
  expect_range(4, 320, 328, 1.0, kWd);
}

TEST(ParamGroups, RangesCoverExactlyTheTensors) {
  const ParamRegistry r = make_registry();
  const std::vector<cpu::AdamWGroupRange> ranges = build_group_ranges(r, make_config());
  std::vector<int> in_tensor(static_cast<size_t>(r.total_numel()), 0);
  std::vector<int> in_range(in_tensor.size(), 0);
  for (const ParamEntry& e : r) {
    for (int64_t i = e.offset; i < e.end(); ++i) ++in_tensor[static_cast<size_t>(i)];
  }
  for (size_t k = 0; k < ranges.size(); ++k) {
    EXPECT_LT(ranges[k].begin, ranges[k].end);
    if (k > 0) {
      EXPECT_LE(ranges[k - 1].end, ranges[k].begin);  // ascending, disjoint
    }
    for (int64_t i = ranges[k].begin; i < ranges[k].end; ++i) ++in_range[static_cast<size_t>(i)];
  }
  EXPECT_EQ(in_range, in_tensor);
}

TEST(ParamGroups, NoDecayConfigMergesDecayedAndUndecayed) {
  ParamRegistry r;
  r.add("w", {64});
  r.add("b", {64}, {.decay = false});
  r.finalize();
  OptimizerConfig c = make_config();
  c.weight_decay = 0.0;
  const std::vector<cpu::AdamWGroupRange> ranges = build_group_ranges(r, c);
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].begin, 0);
  EXPECT_EQ(ranges[0].end, 128);
  EXPECT_EQ(ranges[0].weight_decay, 0.0);
}

TEST(ParamGroups, UnfinalizedRegistryThrows) {
  ParamRegistry r;
  r.add("w", {4});
  EXPECT_THROW(build_group_ranges(r, make_config()), std::logic_error);
}

TEST(ParamGroups, SummaryCountsTensorsElementsAndRanges) {
  const ParamRegistry r = make_registry();
  const std::vector<ParamGroupSummary> groups = summarize_param_groups(r, make_config());
  ASSERT_EQ(groups.size(), 3u);
  // Order of first appearance: embed, q.weight, q.bias.
  EXPECT_EQ(groups[0].lr_scale, 1.0);
  EXPECT_EQ(groups[0].weight_decay, kWd);
  EXPECT_EQ(groups[0].tensors, 2);
  EXPECT_EQ(groups[0].elements, 12 + 8);
  EXPECT_EQ(groups[0].ranges, 2);
  EXPECT_EQ(groups[0].first_tensor, "embed");
  EXPECT_EQ(groups[1].lr_scale, kWidthScale);
  EXPECT_EQ(groups[1].tensors, 2);
  EXPECT_EQ(groups[1].elements, 128);
  EXPECT_EQ(groups[1].ranges, 1);
  EXPECT_EQ(groups[2].weight_decay, 0.0);
  EXPECT_EQ(groups[2].tensors, 2);
  EXPECT_EQ(groups[2].elements, 8);
  EXPECT_EQ(groups[2].ranges, 2);
  int64_t elements = 0;
  for (const ParamGroupSummary& g : groups) elements += g.elements;
  EXPECT_EQ(elements, r.param_count());

  const std::vector<std::string> lines = format_param_groups(groups);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "group 1: lr x0.1 wd 0.1: 2 tensors, 128 elements in 1 range (e.g. layer.q.weight)");
  EXPECT_EQ(lines[2], "group 2: lr x1 wd 0: 2 tensors, 8 elements in 2 ranges (e.g. layer.q.bias)");
}

TEST(ParamGroups, SummaryGroupsDigits) {
  ParamRegistry r;
  r.add("big", {1000, 1234});
  r.finalize();
  const std::vector<std::string> lines = format_param_groups(summarize_param_groups(r, make_config()));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "group 0: lr x1 wd 0.1: 1 tensor, 1,234,000 elements in 1 range (e.g. big)");
}

// ---- the optimizer ------------------------------------------------------------------------------

// Values for every tensor element of the layout, zero in padding: `scale` times uniform [-1, 1].
std::vector<float> random_flat(const ParamRegistry& r, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(r.total_numel()), 0.0f);
  for (const ParamEntry& e : r) {
    for (int64_t i = e.offset; i < e.end(); ++i) x[static_cast<size_t>(i)] = scale * unit(rng);
  }
  return x;
}

// Textbook AdamW with global-norm clipping in double, from the registry's ParamInfo directly (not
// through the group ranges): p ← p − lr·s·wd·p − lr·s·m̂/(sqrt(v̂) + eps), s = lr_scale.
struct Reference {
  const ParamRegistry& registry;
  OptimizerConfig config;
  std::vector<double> p, m, v;
  int t = 0;

  Reference(const ParamRegistry& r, const OptimizerConfig& c, const std::vector<float>& init)
      : registry(r), config(c), p(init.begin(), init.end()), m(init.size(), 0.0), v(init.size(), 0.0) {}

  // Returns the clip coefficient used.
  double step(const std::vector<float>& grads, double lr) {
    double sum = 0;
    for (float g : grads) sum += static_cast<double>(g) * g;
    const double norm = std::sqrt(sum);
    const double coef = config.grad_clip > 0 ? std::min(1.0, config.grad_clip / (norm + 1e-6)) : 1.0;
    ++t;
    for (const ParamEntry& e : registry) {
      const double group_lr = lr * e.info.lr_scale;
      const double wd = e.info.decay ? config.weight_decay : 0.0;
      for (int64_t k = e.offset; k < e.end(); ++k) {
        const size_t i = static_cast<size_t>(k);
        const double g = grads[i] * coef;
        p[i] -= group_lr * wd * p[i];
        m[i] = config.beta1 * m[i] + (1 - config.beta1) * g;
        v[i] = config.beta2 * v[i] + (1 - config.beta2) * g * g;
        const double m_hat = m[i] / (1 - std::pow(config.beta1, t));
        const double v_hat = v[i] / (1 - std::pow(config.beta2, t));
        p[i] -= group_lr * m_hat / (std::sqrt(v_hat) + config.eps);
      }
    }
    return coef;
  }
};

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

std::vector<double> widen(std::span<const float> x) { return {x.begin(), x.end()}; }

// Step 1's gradients have norm ≈ 10 (clipped when grad_clip = 1), step 2's ≈ 0.3 (not clipped).
struct TwoSteps {
  ParamRegistry registry = make_registry();
  std::vector<float> init = random_flat(registry, 1, 1.0f);
  std::vector<std::vector<float>> grads = {random_flat(registry, 2, 1.0f), random_flat(registry, 3, 0.03f)};
  std::vector<double> lrs = {0.05, 0.03};
};

void check_two_steps_against_reference(double grad_clip) {
  TwoSteps s;
  const OptimizerConfig config = make_config(grad_clip);
  AdamWOptimizer opt(s.registry, config, s.init.data());
  Reference ref(s.registry, config, s.init);
  std::vector<float> params = s.init;
  constexpr double kTol = 2e-6;  // fp32 arithmetic on O(1) weights

  for (size_t k = 0; k < 2; ++k) {
    SCOPED_TRACE(k);
    double sum = 0;
    for (float g : s.grads[k]) sum += static_cast<double>(g) * g;
    const double coef = ref.step(s.grads[k], s.lrs[k]);
    const StepResult r = opt.step(s.grads[k].data(), s.lrs[k], ParamOutput::to_fp32(params.data()));
    EXPECT_FALSE(r.skipped);
    EXPECT_EQ(r.step, static_cast<int64_t>(k + 1));
    EXPECT_EQ(opt.step_count(), static_cast<int64_t>(k + 1));
    EXPECT_NEAR(r.grad_norm, std::sqrt(sum), 1e-12 * std::sqrt(sum));
    EXPECT_NEAR(r.clip_coef, coef, 1e-12);
    EXPECT_LT(max_abs_diff(widen(opt.masters()), ref.p), kTol);
    EXPECT_LT(max_abs_diff(widen(opt.m()), ref.m), kTol);
    EXPECT_LT(max_abs_diff(widen(opt.v()), ref.v), kTol);
    EXPECT_LT(max_abs_diff(widen(params), ref.p), kTol);
  }
}

TEST(AdamWOptimizer, TwoStepsMatchDoubleReferenceWithClipping) {
  // The test must be able to tell: clipping, weight decay and the µP multiplier each move the
  // weights by far more than the tolerance.
  TwoSteps s;
  Reference clipped(s.registry, make_config(1.0), s.init);
  Reference unclipped(s.registry, make_config(0.0), s.init);
  EXPECT_LT(clipped.step(s.grads[0], s.lrs[0]), 0.2);  // clipping active at step 1
  EXPECT_EQ(clipped.step(s.grads[1], s.lrs[1]), 1.0);  // and inactive at step 2
  unclipped.step(s.grads[0], s.lrs[0]);
  unclipped.step(s.grads[1], s.lrs[1]);
  EXPECT_GT(max_abs_diff(clipped.p, unclipped.p), 1e-3);

  check_two_steps_against_reference(1.0);
}

TEST(AdamWOptimizer, TwoStepsMatchDoubleReferenceWithoutClipping) { check_two_steps_against_reference(0.0); }

TEST(AdamWOptimizer, DecayOnlyOnDecayedGroupsAndMupScale) {
  // Zero gradients isolate the weight decay: Adam's term is 0/(0 + eps) = 0, so each weight just
  // shrinks by lr·lr_scale·wd, or not at all where the group has no decay.
  const ParamRegistry r = make_registry();
  const std::vector<float> init = random_flat(r, 4, 1.0f);
  const std::vector<float> zero(init.size(), 0.0f);
  AdamWOptimizer opt(r, make_config(), init.data());
  std::vector<float> params = init;
  const double lr = 0.5;
  opt.step(zero.data(), lr, ParamOutput::to_fp32(params.data()));
  for (const ParamEntry& e : r) {
    SCOPED_TRACE(e.name);
    const double shrink = e.info.decay ? lr * e.info.lr_scale * kWd : 0.0;
    for (int64_t i = e.offset; i < e.end(); ++i) {
      const double p0 = init[static_cast<size_t>(i)];
      EXPECT_NEAR(params[static_cast<size_t>(i)], p0 * (1 - shrink), 1e-7);
    }
  }
  // The µP hidden matrices shrink by lr·width_scale·wd, ten times less than the embeddings.
  const size_t q = static_cast<size_t>(r.at("layer.q.weight").offset);
  EXPECT_NEAR(params[q] / init[q], 1 - lr * kWidthScale * kWd, 1e-6);
  EXPECT_NEAR(params[0] / init[0], 1 - lr * kWd, 1e-6);
}

bool bitwise_equal(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}
bool bitwise_equal(std::span<const uint16_t> a, std::span<const uint16_t> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

struct Snapshot {
  std::vector<float> master, m, v;
  explicit Snapshot(const AdamWOptimizer& o)
      : master(o.masters().begin(), o.masters().end()), m(o.m().begin(), o.m().end()), v(o.v().begin(), o.v().end()) {}
  bool operator==(const Snapshot& other) const {
    return bitwise_equal(master, other.master) && bitwise_equal(m, other.m) && bitwise_equal(v, other.v);
  }
};

TEST(AdamWOptimizer, NonFiniteGradientSkipsTheStep) {
  TwoSteps s;
  AdamWOptimizer opt(s.registry, make_config(), s.init.data());
  AdamWOptimizer clean(s.registry, make_config(), s.init.data());
  std::vector<float> params = s.init;
  std::vector<float> clean_params = s.init;

  ASSERT_FALSE(opt.step(s.grads[0].data(), s.lrs[0], ParamOutput::to_fp32(params.data())).skipped);
  clean.step(s.grads[0].data(), s.lrs[0], ParamOutput::to_fp32(clean_params.data()));

  const size_t some = static_cast<size_t>(s.registry.at("layer.o.weight").offset) + 5;
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    SCOPED_TRACE(bad);
    std::vector<float> grads = s.grads[1];
    grads[some] = bad;
    const Snapshot before(opt);
    const std::vector<float> params_before = params;
    const StepResult r = opt.step(grads.data(), s.lrs[1], ParamOutput::to_fp32(params.data()));
    EXPECT_TRUE(r.skipped);
    EXPECT_FALSE(std::isfinite(r.grad_norm));
    EXPECT_EQ(r.step, 1);
    EXPECT_EQ(opt.step_count(), 1);
    EXPECT_TRUE(Snapshot(opt) == before);
    EXPECT_TRUE(bitwise_equal(params, params_before));
  }

  // The next good step is update 2, exactly as if the bad ones never happened.
  const StepResult r = opt.step(s.grads[1].data(), s.lrs[1], ParamOutput::to_fp32(params.data()));
  clean.step(s.grads[1].data(), s.lrs[1], ParamOutput::to_fp32(clean_params.data()));
  EXPECT_EQ(r.step, 2);
  EXPECT_TRUE(Snapshot(opt) == Snapshot(clean));
  EXPECT_TRUE(bitwise_equal(params, clean_params));
}

TEST(AdamWOptimizer, SkipsEvenWithClippingOff) {
  // clip_coefficient is 1 for any norm when clipping is off; the finiteness check must not rely on it.
  TwoSteps s;
  AdamWOptimizer opt(s.registry, make_config(0.0), s.init.data());
  std::vector<float> grads = s.grads[0];
  grads[3] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> params = s.init;
  const StepResult r = opt.step(grads.data(), 0.05, ParamOutput::to_fp32(params.data()));
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(r.step, 0);
  EXPECT_TRUE(bitwise_equal(params, s.init));
  EXPECT_TRUE(bitwise_equal(opt.masters(), s.init));
}

TEST(AdamWOptimizer, Bf16AndFp32OutputsAgreeWithTheMasters) {
  TwoSteps s;
  AdamWOptimizer to32(s.registry, make_config(), s.init.data());
  AdamWOptimizer to16(s.registry, make_config(), s.init.data());
  constexpr uint16_t kSentinel = 0xABCD;  // in padding: must survive, no one writes padding
  std::vector<float> p32(s.init.size(), -7.0f);
  std::vector<uint16_t> p16(s.init.size(), kSentinel);
  std::vector<bf16> p16_typed(s.init.size(), bf16{kSentinel});
  AdamWOptimizer to16_typed(s.registry, make_config(), s.init.data());

  for (size_t k = 0; k < 2; ++k) {
    to32.step(s.grads[k].data(), s.lrs[k], ParamOutput::to_fp32(p32.data()));
    to16.step(s.grads[k].data(), s.lrs[k], ParamOutput::to_bf16(p16.data()));
    to16_typed.step(s.grads[k].data(), s.lrs[k], ParamOutput::to_bf16(p16_typed.data()));
  }
  // The output format does not change the optimizer's arithmetic.
  EXPECT_TRUE(Snapshot(to32) == Snapshot(to16));

  std::vector<bool> in_tensor(s.init.size(), false);
  for (const ParamEntry& e : s.registry) {
    for (int64_t i = e.offset; i < e.end(); ++i) in_tensor[static_cast<size_t>(i)] = true;
  }
  const std::span<const float> masters = to16.masters();
  for (size_t i = 0; i < s.init.size(); ++i) {
    SCOPED_TRACE(i);
    if (in_tensor[i]) {
      EXPECT_EQ(p16[i], to_bf16(masters[i]).bits);  // round to nearest even of the new master
      EXPECT_EQ(p16_typed[i].bits, p16[i]);
      EXPECT_EQ(std::memcmp(&p32[i], &masters[i], sizeof(float)), 0);
    } else {
      EXPECT_EQ(p16[i], kSentinel);
      EXPECT_EQ(p16_typed[i].bits, kSentinel);
      EXPECT_EQ(p32[i], -7.0f);
    }
  }
}

TEST(AdamWOptimizer, SlicesUpdateLikeTheWholeBuffer) {
  // Two ZeRO-style shards that cut through the merged q/o range, driven through the two-phase API
  // (sum the local squares, then step_with_norm), reproduce the whole-buffer optimizer bit for bit.
  // The gradients stay under grad_clip, so both see a clip coefficient of exactly 1 (partial sums
  // may round differently from one sum).
  TwoSteps s;
  const int64_t total = s.registry.total_numel();
  const int64_t cut = 100;
  AdamWOptimizer whole(s.registry, make_config(), s.init.data());
  AdamWOptimizer lo(s.registry, make_config(), s.init.data(), 0, cut);
  AdamWOptimizer hi(s.registry, make_config(), s.init.data(), cut, total);
  EXPECT_EQ(lo.masters().size(), static_cast<size_t>(cut));
  EXPECT_EQ(hi.state_bytes(), static_cast<size_t>(total - cut) * 12);
  EXPECT_EQ(whole.state_bytes(), static_cast<size_t>(total) * 12);

  std::vector<uint16_t> p_whole(s.init.size(), 0), p_sharded(s.init.size(), 0);
  for (int k = 0; k < 3; ++k) {
    SCOPED_TRACE(k);
    const std::vector<float> grads = random_flat(s.registry, 10 + k, 0.03f);
    const StepResult rw = whole.step(grads.data(), 0.02, ParamOutput::to_bf16(p_whole.data()));
    const double norm = std::sqrt(lo.local_sum_of_squares(grads.data()) + hi.local_sum_of_squares(grads.data()));
    const StepResult rl = lo.step_with_norm(norm, grads.data(), 0.02, ParamOutput::to_bf16(p_sharded.data()));
    const StepResult rh = hi.step_with_norm(norm, grads.data(), 0.02, ParamOutput::to_bf16(p_sharded.data()));
    ASSERT_EQ(rw.clip_coef, 1.0);
    EXPECT_EQ(rl.clip_coef, 1.0);
    EXPECT_EQ(rl.step, rw.step);
    EXPECT_EQ(rh.step, rw.step);
    EXPECT_NEAR(norm, rw.grad_norm, 1e-12);
  }
  std::vector<float> joined(lo.masters().begin(), lo.masters().end());
  joined.insert(joined.end(), hi.masters().begin(), hi.masters().end());
  EXPECT_TRUE(bitwise_equal(joined, whole.masters()));
  std::vector<float> joined_v(lo.v().begin(), lo.v().end());
  joined_v.insert(joined_v.end(), hi.v().begin(), hi.v().end());
  EXPECT_TRUE(bitwise_equal(joined_v, whole.v()));
  EXPECT_TRUE(bitwise_equal(p_sharded, p_whole));
}

TEST(AdamWOptimizer, ApplyUsesTheGivenCoefficient) {
  // apply() is the bare update: the caller's coefficient scales the gradients. Scaling the
  // gradients by 0.25 by hand and applying with 1 gives the same bits.
  TwoSteps s;
  AdamWOptimizer a(s.registry, make_config(), s.init.data());
  AdamWOptimizer b(s.registry, make_config(), s.init.data());
  std::vector<float> pa = s.init, pb = s.init;
  std::vector<float> quarter = s.grads[0];
  for (float& g : quarter) g *= 0.25f;  // exact: a power of two
  a.apply(s.grads[0].data(), 0.05, 0.25, ParamOutput::to_fp32(pa.data()));
  b.apply(quarter.data(), 0.05, 1.0, ParamOutput::to_fp32(pb.data()));
  EXPECT_EQ(a.step_count(), 1);
  EXPECT_TRUE(Snapshot(a) == Snapshot(b));
  EXPECT_TRUE(bitwise_equal(pa, pb));
}

TEST(AdamWOptimizer, RejectsBadArguments) {
  const ParamRegistry r = make_registry();
  const std::vector<float> init(static_cast<size_t>(r.total_numel()), 0.0f);
  EXPECT_THROW(AdamWOptimizer(r, make_config(), init.data(), -1, 10), std::invalid_argument);
  EXPECT_THROW(AdamWOptimizer(r, make_config(), init.data(), 10, 5), std::invalid_argument);
  ParamRegistry open;
  open.add("w", {4});
  EXPECT_THROW(AdamWOptimizer(open, make_config(), init.data()), std::logic_error);

  AdamWOptimizer opt(r, make_config(), init.data());
  std::vector<float> out(init.size());
  std::vector<uint16_t> out16(init.size());
  EXPECT_THROW(opt.apply(init.data(), 0.1, 1.0, ParamOutput{}), std::invalid_argument);
  EXPECT_THROW(opt.apply(init.data(), 0.1, 1.0, ParamOutput{out.data(), out16.data()}), std::invalid_argument);
  EXPECT_EQ(opt.step_count(), 0);
}

TEST(AdamWOptimizer, EmptySliceIsValid) {
  const ParamRegistry r = make_registry();
  const std::vector<float> init = random_flat(r, 5, 1.0f);
  AdamWOptimizer opt(r, make_config(), init.data(), 64, 64);
  EXPECT_EQ(opt.state_bytes(), 0u);
  EXPECT_EQ(opt.local_sum_of_squares(init.data()), 0.0);
  std::vector<float> out = init;
  const StepResult res = opt.step_with_norm(0.5, init.data(), 0.1, ParamOutput::to_fp32(out.data()));
  EXPECT_EQ(res.step, 1);
  EXPECT_TRUE(bitwise_equal(out, init));
}

}  // namespace
}  // namespace kiln
