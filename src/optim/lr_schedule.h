// The learning-rate schedule of a run: a pure function from optimizer step to learning rate.
//
// Step convention. `at(t)` is the learning rate of update number t, counted from 0: the first
// optimizer step of a run uses at(0), the last of a T-step run uses at(T − 1), and a run resumed
// after k updates continues with at(k). Every phase boundary is stated as a step count, i.e. the
// number of updates done: the warmup reaches lr_max at t = W, the decay reaches min_lr at t = E,
// the cooldown reaches cooldown_min_lr at t = T. Between knots the schedule is the closed form
// evaluated at the integer t. (This is GPT-NeoX's convention: its first update runs at lr 0.)
//
// With W = warmup_steps, E = decay_steps, T = train_steps, M = peak_lr, m = min_lr:
//
//   warmup     t < W:  M·t/W                                  (none when W = 0; not floored)
//   then, with n = t − W and S = E − W, every style but constant floored at m:
//   constant   M
//   linear     m + (M − m)·(1 − n/S)       reaches m at E. GPT-NeoX's linear instead heads for 0
//                                          and meets the floor early; kiln's ends at m exactly.
//   cosine     m + (M − m)/2·(1 + cos(π n/S))
//   rsqrt      max(m, M·sqrt(max(W,1))/sqrt(max(t,1)))   Megatron's inverse-square-root, in t, not
//                                          n, so it meets the warmup at M. With W = 0 it is
//                                          M/sqrt(max(t,1)), as in Megatron: a steep start.
//   wsd        M until E − D (D = wsd_decay_steps), then with r = (t − (E − D))/D ∈ [0, 1]:
//              m + (M − m)·g(r), g = 1 − r (linear), (1 + cos πr)/2 (cosine), 1 − sqrt(r) (sqrt),
//              or (ρ^r − ρ)/(1 − ρ) (exponential) with ρ = m/M, which is the geometric
//              M·(m/M)^r. When m = 0 the geometric form has no finite ratio; ρ = 1/2 is used
//              instead, which is exactly Megatron's 2·0.5^r − 1.
//   hyb, hyb2  Stable LM 2's hybrid (SPEC §2): with s = n, s0 = hybrid_switch·S, P = S (hyb) or
//              2S (hyb2), cosine m + (M − m)/2·(1 + cos(π s/P)) for s ≤ s0, then α/sqrt(s + β),
//              with α and β fixed once so that value and slope are continuous at s0.
//
// After E every decaying style holds the value it has at E (still floored at m). For linear,
// cosine and wsd that value is m. For rsqrt and the hybrids, whose tails do not reach m, kiln
// deliberately stops the decay too: decay_steps is documented as where the decay ends, and holding
// keeps the curve continuous (Megatron instead jumps to min_lr after E). Train longer on a
// still-decaying rsqrt tail by raising decay_steps, not train.steps.
//
// Cooldown (C = cooldown_steps > 0): from c0 = T − C on, the schedule is replaced by the straight
// line from v0 = (the schedule above at c0) to cooldown_min_lr at t = T:
//   at(c0 + k) = v0 + (cooldown_min_lr − v0)·k/C,  k = 0 … C.
// It mirrors the warmup: C updates, the first at v0, the last (t = T − 1) at one C-th of the way
// above cooldown_min_lr, so no update is spent at exactly cooldown_min_lr (which is often 0).
// For t > T the cooldown holds at cooldown_min_lr.
//
// min_lr and cooldown_min_lr are absolute. A parameter group whose lr is a multiple of the base lr
// (µP) should scale at() by that multiple rather than build a schedule with a scaled peak, so that
// the floors scale with it.
#pragma once

#include <cstdint>
#include <optional>

#include "config/config.h"

namespace kiln {

class LrSchedule {
 public:
  // The constants of the hybrid, in steps after the warmup. When min_lr = peak_lr the schedule is
  // flat and α, β are +∞ (the limit of the construction; at() does not use them then).
  struct Hybrid {
    double switch_s;  // s0: the cosine part runs for s ≤ s0
    double period;    // P
    double alpha;     // α
    double beta;      // β
  };

  // Expects a ScheduleConfig as the loader leaves it: warmup_steps and decay_steps engaged,
  // hybrid_switch engaged for hyb and hyb2, and the cross-field checks passed (W < E for decaying
  // styles, W ≤ T − C, 1 ≤ wsd_decay_steps ≤ E − W, min_lr ≤ peak_lr).
  LrSchedule(const ScheduleConfig& config, double peak_lr, int64_t train_steps);

  // The learning rate of update `step` (0-based; see the convention above). Negative steps are
  // treated as 0. Pure and cheap: no state, a few flops and at most one cos/sqrt/pow.
  double at(int64_t step) const;

  ScheduleStyle style() const { return style_; }
  double peak_lr() const { return peak_; }
  int64_t train_steps() const { return train_steps_; }
  int64_t warmup_steps() const { return warmup_; }
  int64_t decay_steps() const { return decay_; }
  // hyb, hyb2: the constants above; nullopt for the other styles.
  const std::optional<Hybrid>& hybrid() const { return hybrid_; }
  // hyb, hyb2: the absolute step W + s0 where the rsqrt part takes over (fractional in general).
  std::optional<double> switch_step() const;
  // wsd: the step E − D where the decay starts.
  std::optional<int64_t> wsd_decay_start() const;
  // cooldown_steps > 0: the first cooldown step T − C.
  std::optional<int64_t> cooldown_start() const;

 private:
  double decayed(int64_t step) const;  // the schedule without the cooldown
  double wsd_shape(double r) const;    // g(r), from 1 at r = 0 to 0 at r = 1

  ScheduleStyle style_;
  WsdShape wsd_shape_;
  double peak_;
  double min_;
  int64_t train_steps_;
  int64_t warmup_;
  int64_t decay_;
  int64_t wsd_decay_ = 0;
  double exp_ratio_ = 0.5;  // ρ of the exponential wsd shape
  std::optional<Hybrid> hybrid_;
  int64_t cooldown_ = 0;
  double cooldown_min_ = 0;
  double cooldown_from_ = 0;  // v0: decayed(T − C)
};

}  // namespace kiln
