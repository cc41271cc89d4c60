// LrSchedule against closed forms, the SPEC §2 hybrid example, and the shape properties every
// decaying style must have (continuity at the hybrid switch, monotone decay, cooldown endpoints).
#include "optim/lr_schedule.h"

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/loader.h"

namespace kiln {
namespace {

constexpr double kMax = 1e-3;
constexpr double kMin = 1e-4;
constexpr double kPi = std::numbers::pi;

ScheduleConfig make(ScheduleStyle style, int64_t warmup, int64_t decay, double min_lr = kMin) {
  ScheduleConfig c{};
  c.style = style;
  c.warmup_steps = warmup;
  c.decay_steps = decay;
  c.min_lr = min_lr;
  c.cooldown_steps = 0;
  c.cooldown_min_lr = 0;
  c.wsd_decay_steps = 0;
  c.wsd_decay_shape = WsdShape::linear;
  if (style == ScheduleStyle::hyb) c.hybrid_switch = 0.25;
  if (style == ScheduleStyle::hyb2) c.hybrid_switch = 0.5;
  return c;
}

ScheduleConfig make_wsd(WsdShape shape, int64_t warmup, int64_t decay, int64_t wsd_decay, double min_lr = kMin) {
  ScheduleConfig c = make(ScheduleStyle::wsd, warmup, decay, min_lr);
  c.wsd_decay_steps = wsd_decay;
  c.wsd_decay_shape = shape;
  return c;
}

// Relative comparison: the values span 1e-5 … 1e-3, so absolute tolerances would mislead.
void expect_rel(double actual, double expected, double rel = 1e-12) {
  EXPECT_NEAR(actual, expected, std::abs(expected) * rel + 1e-300) << "expected " << expected;
}

TEST(LrSchedule, WarmupIsLinearFromZeroAndMeetsThePeakAtW) {
  const LrSchedule s(make(ScheduleStyle::cosine, 100, 1000), kMax, 1000);
  EXPECT_EQ(s.at(0), 0.0);
  expect_rel(s.at(25), kMax / 4);
  expect_rel(s.at(99), 0.99 * kMax);
  expect_rel(s.at(100), kMax);
  EXPECT_LT(s.at(101), kMax);
  EXPECT_EQ(s.at(-5), s.at(0));
}

TEST(LrSchedule, NoWarmupStartsAtThePeak) {
  for (auto style : {ScheduleStyle::constant, ScheduleStyle::linear, ScheduleStyle::cosine, ScheduleStyle::rsqrt,
                     ScheduleStyle::hyb, ScheduleStyle::hyb2}) {
    const LrSchedule s(make(style, 0, 1000), kMax, 1000);
    expect_rel(s.at(0), kMax);
  }
}

TEST(LrSchedule, ConstantHoldsThePeakForever) {
  const LrSchedule s(make(ScheduleStyle::constant, 10, 100), kMax, 100);
  expect_rel(s.at(5), kMax / 2);
  EXPECT_EQ(s.at(10), kMax);
  EXPECT_EQ(s.at(99), kMax);
  EXPECT_EQ(s.at(5000), kMax);
}

TEST(LrSchedule, LinearEndsAtMinLrAtDecaySteps) {
  // W = 200, E = 1000, S = 800.
  const LrSchedule s(make(ScheduleStyle::linear, 200, 1000), kMax, 1500);
  expect_rel(s.at(200), kMax);
  expect_rel(s.at(400), kMin + (kMax - kMin) * 0.75);
  expect_rel(s.at(600), (kMax + kMin) / 2);
  expect_rel(s.at(1000), kMin);
  EXPECT_EQ(s.at(1400), kMin);
}

TEST(LrSchedule, CosineMatchesTheClosedForm) {
  const LrSchedule s(make(ScheduleStyle::cosine, 200, 1000), kMax, 1000);
  expect_rel(s.at(200), kMax);
  expect_rel(s.at(400), kMin + (kMax - kMin) / 2 * (1 + std::cos(kPi / 4)));
  expect_rel(s.at(600), (kMax + kMin) / 2);
  expect_rel(s.at(800), kMin + (kMax - kMin) / 2 * (1 + std::cos(3 * kPi / 4)));
  expect_rel(s.at(1000), kMin);
  EXPECT_EQ(s.at(3000), kMin);
}

TEST(LrSchedule, RsqrtIsMegatronsInverseSquareRoot) {
  const LrSchedule s(make(ScheduleStyle::rsqrt, 100, 20000, 1e-5), kMax, 20000);
  expect_rel(s.at(50), kMax / 2);  // warmup
  expect_rel(s.at(100), kMax);
  expect_rel(s.at(400), kMax / 2);
  expect_rel(s.at(10000), kMax / 10);
  // After E it holds the value at E instead of dropping to min_lr.
  expect_rel(s.at(20000), kMax * 10 / std::sqrt(20000.0));
  EXPECT_EQ(s.at(40000), s.at(20000));
}

TEST(LrSchedule, RsqrtIsFlooredAtMinLr) {
  const LrSchedule s(make(ScheduleStyle::rsqrt, 100, 20000, 3e-4), kMax, 20000);
  expect_rel(s.at(400), kMax / 2);
  EXPECT_EQ(s.at(10000), 3e-4);
}

TEST(LrSchedule, RsqrtWithoutWarmupUsesOneStepAsTheScale) {
  const LrSchedule s(make(ScheduleStyle::rsqrt, 0, 1000, 0), kMax, 1000);
  expect_rel(s.at(0), kMax);
  expect_rel(s.at(1), kMax);
  expect_rel(s.at(4), kMax / 2);
  expect_rel(s.at(100), kMax / 10);
}

TEST(LrSchedule, WsdShapesAtTheStartMiddleAndEndOfTheDecay) {
  // E = 1000, D = 200: stable until 800, r = (t − 800)/200.
  struct Case {
    WsdShape shape;
    double mid;  // at r = 0.5
  };
  const Case cases[] = {
      {WsdShape::linear, kMin + (kMax - kMin) * 0.5},
      {WsdShape::cosine, kMin + (kMax - kMin) * 0.5},
      {WsdShape::sqrt, kMin + (kMax - kMin) * (1 - std::sqrt(0.5))},
      {WsdShape::exponential, std::sqrt(kMax * kMin)},  // geometric: M·(m/M)^½
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.shape));
    const LrSchedule s(make_wsd(c.shape, 50, 1000, 200), kMax, 1200);
    expect_rel(s.at(25), kMax / 2);
    EXPECT_EQ(s.at(50), kMax);
    EXPECT_EQ(s.at(500), kMax);
    expect_rel(s.at(800), kMax);  // r = 0
    expect_rel(s.at(900), c.mid);
    expect_rel(s.at(1000), kMin);  // r = 1
    EXPECT_EQ(s.at(1100), s.at(1000));
    EXPECT_EQ(s.wsd_decay_start(), 800);
  }
}

TEST(LrSchedule, WsdCosineAtAQuarter) {
  const LrSchedule s(make_wsd(WsdShape::cosine, 0, 1000, 200), kMax, 1000);
  expect_rel(s.at(850), kMin + (kMax - kMin) * (1 + std::cos(kPi / 4)) / 2);
}

TEST(LrSchedule, WsdExponentialToZeroIsMegatronsForm) {
  // With min_lr = 0 the geometric ratio would be 0; kiln uses Megatron's 2·0.5^r − 1.
  const LrSchedule s(make_wsd(WsdShape::exponential, 0, 1000, 200, 0), kMax, 1000);
  expect_rel(s.at(800), kMax);
  expect_rel(s.at(900), kMax * (2 * std::sqrt(0.5) - 1));
  EXPECT_NEAR(s.at(1000), 0.0, 1e-18);
}

TEST(LrSchedule, HybridConstantsMatchTheSpecExample) {
  // SPEC §2: M = 1e-3, m = 1e-4, S = 540,000.
  const LrSchedule hyb(make(ScheduleStyle::hyb, 0, 540'000), kMax, 540'000);
  ASSERT_TRUE(hyb.hybrid());
  EXPECT_EQ(hyb.hybrid()->switch_s, 135'000);
  EXPECT_EQ(hyb.hybrid()->period, 540'000);
  EXPECT_NEAR(hyb.hybrid()->beta, 99'496, 0.5);
  EXPECT_NEAR(hyb.hybrid()->alpha, 0.4204, 0.00005);

  const LrSchedule hyb2(make(ScheduleStyle::hyb2, 0, 540'000), kMax, 540'000);
  ASSERT_TRUE(hyb2.hybrid());
  EXPECT_EQ(hyb2.hybrid()->switch_s, 270'000);
  EXPECT_EQ(hyb2.hybrid()->period, 1'080'000);
  EXPECT_NEAR(hyb2.hybrid()->beta, 198'992, 0.5);
  EXPECT_NEAR(hyb2.hybrid()->alpha, 0.5946, 0.00005);
}

TEST(LrSchedule, HybridValuesOnBothSidesOfTheSwitch) {
  // Reference values computed independently (float64, Python) from the SPEC §2 formulas.
  const LrSchedule hyb(make(ScheduleStyle::hyb, 0, 540'000), kMax, 540'000);
  expect_rel(hyb.at(100'000), 9.259695151358215e-4, 1e-10);
  expect_rel(hyb.at(135'000), 8.681980515339464e-4, 1e-10);
  expect_rel(hyb.at(300'000), 6.65166327112961e-4, 1e-10);
  expect_rel(hyb.at(540'000), 5.257357728387486e-4, 1e-10);

  const LrSchedule hyb2(make(ScheduleStyle::hyb2, 0, 540'000), kMax, 540'000);
  expect_rel(hyb2.at(100'000), 9.8109528054197e-4, 1e-10);
  expect_rel(hyb2.at(270'000), 8.681980515339464e-4, 1e-10);
  expect_rel(hyb2.at(300'000), 8.416949567249526e-4, 1e-10);
  expect_rel(hyb2.at(540'000), 6.916423994836752e-4, 1e-10);
}

TEST(LrSchedule, HybridIsContinuousInValueAndSlopeAtTheSwitch) {
  for (auto style : {ScheduleStyle::hyb, ScheduleStyle::hyb2}) {
    for (int64_t warmup : {int64_t{0}, int64_t{9720}}) {
      SCOPED_TRACE(std::string(style == ScheduleStyle::hyb ? "hyb" : "hyb2") + " W=" + std::to_string(warmup));
      const LrSchedule s(make(style, warmup, 540'000), kMax, 540'000);
      const auto& h = *s.hybrid();
      // The two pieces agree at s0.
      const double cosine_at_s0 = kMin + (kMax - kMin) / 2 * (1 + std::cos(kPi * h.switch_s / h.period));
      expect_rel(h.alpha / std::sqrt(h.switch_s + h.beta), cosine_at_s0, 1e-12);

      const auto sw = static_cast<int64_t>(*s.switch_step());
      ASSERT_EQ(static_cast<double>(sw), *s.switch_step());  // s0 is whole for these spans
      const int64_t k = 50;
      const double left = (s.at(sw) - s.at(sw - k)) / k;   // all cosine
      const double right = (s.at(sw + k) - s.at(sw)) / k;  // all rsqrt
      const double slope = -(kMax - kMin) * (kPi / h.period) * std::sin(kPi * h.switch_s / h.period) / 2;
      // One-sided differences are off by ~k·f″/2, about 1e-3 of the slope here; a kink in the
      // slope would show as an O(1) mismatch.
      expect_rel(left, slope, 2e-3);
      expect_rel(right, slope, 2e-3);
      expect_rel(left, right, 2e-3);
      // Value: the step across the switch is the slope, not a jump.
      expect_rel(s.at(sw + 1) - s.at(sw), slope, 2e-3);
    }
  }
}

TEST(LrSchedule, HybridDependsOnTheSpanAfterWarmup) {
  // The 1.6B layout: W = 9,720, S = 530,280, hyb2 switches at W + S/2 = 274,860.
  const LrSchedule s(make(ScheduleStyle::hyb2, 9720, 540'000), kMax, 540'000);
  EXPECT_EQ(s.switch_step(), 274'860.0);
  EXPECT_EQ(s.hybrid()->period, 2 * 530'280.0);
  expect_rel(s.at(9720), kMax);
}

TEST(LrSchedule, HybridHoldsItsValueAfterDecaySteps) {
  const LrSchedule s(make(ScheduleStyle::hyb, 100, 5000), kMax, 8000);
  EXPECT_GT(s.at(5000), kMin);
  EXPECT_EQ(s.at(6000), s.at(5000));
  EXPECT_EQ(s.at(7999), s.at(5000));
  EXPECT_LT(s.at(5000), s.at(4999));
}

TEST(LrSchedule, EveryDecayingStyleIsMonotoneAfterWarmupAndFloored) {
  struct Case {
    std::string name;
    ScheduleConfig config;
  };
  std::vector<Case> cases = {
      {"linear", make(ScheduleStyle::linear, 300, 9000)},
      {"cosine", make(ScheduleStyle::cosine, 300, 9000)},
      {"rsqrt", make(ScheduleStyle::rsqrt, 300, 9000)},
      {"rsqrt W=0", make(ScheduleStyle::rsqrt, 0, 9000)},
      {"hyb", make(ScheduleStyle::hyb, 300, 9000)},
      {"hyb2", make(ScheduleStyle::hyb2, 300, 9000)},
      {"hyb min 0", make(ScheduleStyle::hyb, 300, 9000, 0)},
  };
  for (auto shape : {WsdShape::linear, WsdShape::cosine, WsdShape::exponential, WsdShape::sqrt}) {
    cases.push_back({"wsd " + std::to_string(static_cast<int>(shape)), make_wsd(shape, 300, 9000, 2000)});
    cases.push_back({"wsd min 0 " + std::to_string(static_cast<int>(shape)), make_wsd(shape, 300, 9000, 2000, 0)});
  }
  for (const auto& c : cases) {
    for (int64_t cooldown : {int64_t{0}, int64_t{1500}}) {
      SCOPED_TRACE(c.name + " cooldown=" + std::to_string(cooldown));
      ScheduleConfig config = c.config;
      config.cooldown_steps = cooldown;
      const LrSchedule s(config, kMax, 10'000);
      double prev = s.at(*config.warmup_steps);
      EXPECT_DOUBLE_EQ(prev, kMax);
      for (int64_t t = *config.warmup_steps + 1; t <= 10'000; ++t) {
        const double lr = s.at(t);
        ASSERT_LE(lr, prev) << "at step " << t;
        if (cooldown == 0) {
          ASSERT_GE(lr, config.min_lr) << "at step " << t;
        }
        prev = lr;
      }
    }
  }
}

TEST(LrSchedule, CooldownRunsLinearlyFromTheScheduleToItsFloorAtTrainSteps) {
  // T = 1000, C = 100: cooldown from step 900; the last update (999) is 1/100 above the floor.
  ScheduleConfig config = make(ScheduleStyle::cosine, 10, 1000);
  config.cooldown_steps = 100;
  const LrSchedule s(config, kMax, 1000);
  const LrSchedule plain(make(ScheduleStyle::cosine, 10, 1000), kMax, 1000);
  EXPECT_EQ(s.cooldown_start(), 900);
  const double v0 = kMin + (kMax - kMin) / 2 * (1 + std::cos(kPi * 890 / 990));
  expect_rel(plain.at(900), v0);
  EXPECT_EQ(s.at(899), plain.at(899));
  expect_rel(s.at(900), v0);
  expect_rel(s.at(950), v0 / 2);
  expect_rel(s.at(999), v0 / 100);
  EXPECT_EQ(s.at(1000), 0.0);
  EXPECT_EQ(s.at(5000), 0.0);
}

TEST(LrSchedule, CooldownToANonZeroFloor) {
  ScheduleConfig config = make(ScheduleStyle::constant, 0, 200);
  config.cooldown_steps = 40;
  config.cooldown_min_lr = 2e-4;
  const LrSchedule s(config, kMax, 200);
  EXPECT_EQ(s.at(159), kMax);
  expect_rel(s.at(160), kMax);
  expect_rel(s.at(180), (kMax + 2e-4) / 2);
  expect_rel(s.at(199), 2e-4 + (kMax - 2e-4) / 40);
  expect_rel(s.at(200), 2e-4);
}

TEST(LrSchedule, CooldownCanStartRightAfterWarmup) {
  ScheduleConfig config = make(ScheduleStyle::hyb2, 20, 100);
  config.cooldown_steps = 80;
  const LrSchedule s(config, kMax, 100);
  expect_rel(s.at(19), kMax * 19 / 20);
  expect_rel(s.at(20), kMax);
  expect_rel(s.at(60), kMax / 2);
}

TEST(LrSchedule, MinEqualToPeakIsFlat) {
  for (auto style : {ScheduleStyle::linear, ScheduleStyle::cosine, ScheduleStyle::rsqrt, ScheduleStyle::hyb,
                     ScheduleStyle::hyb2}) {
    const LrSchedule s(make(style, 10, 1000, kMax), kMax, 1000);
    expect_rel(s.at(5), kMax / 2);
    for (int64_t t : {10, 11, 500, 999, 1000}) EXPECT_EQ(s.at(t), kMax) << t;
  }
  const LrSchedule w(make_wsd(WsdShape::exponential, 10, 1000, 100, kMax), kMax, 1000);
  EXPECT_EQ(w.at(950), kMax);
}

TEST(LrSchedule, AccessorsReportThePhases) {
  const LrSchedule c(make(ScheduleStyle::cosine, 10, 100), kMax, 120);
  EXPECT_EQ(c.warmup_steps(), 10);
  EXPECT_EQ(c.decay_steps(), 100);
  EXPECT_EQ(c.train_steps(), 120);
  EXPECT_EQ(c.peak_lr(), kMax);
  EXPECT_FALSE(c.hybrid());
  EXPECT_FALSE(c.switch_step());
  EXPECT_FALSE(c.wsd_decay_start());
  EXPECT_FALSE(c.cooldown_start());
}

TEST(LrSchedule, ShippedConfigsGiveTheDocumentedCurves) {
  const std::string dir = std::string(KILN_SOURCE_DIR) + "/configs/";
  {
    const Config c = load_config(dir + "stablelm-2-1_6b.yml").config;
    const LrSchedule s(c.schedule, c.optimizer.lr, c.train.steps);
    EXPECT_EQ(s.style(), ScheduleStyle::hyb2);
    EXPECT_EQ(s.warmup_steps(), 9720);
    EXPECT_EQ(s.switch_step(), 274'860.0);
    EXPECT_EQ(s.at(0), 0.0);
    expect_rel(s.at(9720), 1e-3);
    EXPECT_GT(s.at(539'999), 1e-4);  // hyb2's tail stays well above min_lr at E
  }
  {
    const Config c = load_config(dir + "tiny.yml").config;
    const LrSchedule s(c.schedule, c.optimizer.lr, c.train.steps);
    EXPECT_EQ(s.cooldown_start(), 160);
    expect_rel(s.at(20), 3e-3);
    EXPECT_EQ(s.at(200), 0.0);
  }
}

}  // namespace
}  // namespace kiln
