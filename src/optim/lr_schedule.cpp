#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace kiln {

namespace {

constexpr double kPi = std::numbers::pi;

bool is_hybrid(ScheduleStyle s) { return s == ScheduleStyle::hyb || s == ScheduleStyle::hyb2; }

// The hybrid's rsqrt tail: continuity of f and f′ at s0 gives two equations for α and β.
// Writing v = f(s0) and d = −f′(s0) > 0, the tail α/sqrt(s + β) has slope −v/(2(s0 + β)) at s0,
// so s0 + β = v/(2d), and then α = v·sqrt(s0 + β).
LrSchedule::Hybrid hybrid_constants(double peak, double min, double span, double switch_frac, bool doubled) {
  LrSchedule::Hybrid h;
  h.switch_s = switch_frac * span;
  h.period = doubled ? 2 * span : span;
  const double x = kPi * h.switch_s / h.period;
  const double v = min + (peak - min) * (1 + std::cos(x)) / 2;
  const double d = (peak - min) * (kPi / h.period) * std::sin(x) / 2;
  if (d > 0) {
    const double s0_plus_beta = v / (2 * d);
    h.beta = s0_plus_beta - h.switch_s;
    h.alpha = v * std::sqrt(s0_plus_beta);
  } else {
    // peak == min: a flat schedule, which at() returns without using the tail. An infinitely
    // wide rsqrt is the limit of the construction as d → 0.
    h.alpha = h.beta = std::numeric_limits<double>::infinity();
  }
  return h;
}

}  // namespace

LrSchedule::LrSchedule(const ScheduleConfig& config, double peak_lr, int64_t train_steps)
    : style_(config.style),
      wsd_shape_(config.wsd_decay_shape),
      peak_(peak_lr),
      min_(config.min_lr),
      train_steps_(train_steps),
      warmup_(config.warmup_steps.value()),
      decay_(config.decay_steps.value()) {
  if (style_ == ScheduleStyle::wsd) {
    wsd_decay_ = config.wsd_decay_steps;
    if (min_ > 0 && min_ < peak_) exp_ratio_ = min_ / peak_;
  }
  if (is_hybrid(style_))
    hybrid_ = hybrid_constants(peak_, min_, static_cast<double>(decay_ - warmup_), config.hybrid_switch.value(),
                               style_ == ScheduleStyle::hyb2);
  if (config.cooldown_steps > 0) {
    cooldown_ = config.cooldown_steps;
    cooldown_min_ = config.cooldown_min_lr;
    cooldown_from_ = decayed(train_steps_ - cooldown_);
  }
}

double LrSchedule::at(int64_t step) const {
  step = std::max<int64_t>(step, 0);
  const int64_t c0 = train_steps_ - cooldown_;
  if (cooldown_ == 0 || step < c0) return decayed(step);
  const double k = static_cast<double>(std::min(step - c0, cooldown_));
  return cooldown_from_ + (cooldown_min_ - cooldown_from_) * k / static_cast<double>(cooldown_);
}

double LrSchedule::decayed(int64_t step) const {
  if (step < warmup_) return peak_ * static_cast<double>(step) / static_cast<double>(warmup_);
  if (style_ == ScheduleStyle::constant || peak_ <= min_) return peak_;

  const int64_t t = std::min(step, decay_);  // hold the value at E afterwards
  const double n = static_cast<double>(t - warmup_);
  const double span = static_cast<double>(decay_ - warmup_);
  const double range = peak_ - min_;
  double lr = min_;
  switch (style_) {
    case ScheduleStyle::linear:
      lr = min_ + range * (1 - n / span);
      break;
    case ScheduleStyle::cosine:
      lr = min_ + range / 2 * (1 + std::cos(kPi * n / span));
      break;
    case ScheduleStyle::rsqrt:
      lr = peak_ * std::sqrt(static_cast<double>(std::max<int64_t>(warmup_, 1))) /
           std::sqrt(static_cast<double>(std::max<int64_t>(t, 1)));
      break;
    case ScheduleStyle::wsd: {
      const int64_t start = decay_ - wsd_decay_;
      lr = t <= start ? peak_
                      : min_ + range * wsd_shape(static_cast<double>(t - start) / static_cast<double>(wsd_decay_));
      break;
    }
    case ScheduleStyle::hyb:
    case ScheduleStyle::hyb2: {
      const Hybrid& h = *hybrid_;
      lr = n <= h.switch_s ? min_ + range / 2 * (1 + std::cos(kPi * n / h.period)) : h.alpha / std::sqrt(n + h.beta);
      break;
    }
    case ScheduleStyle::constant:
      break;  // handled above
  }
  return std::max(lr, min_);
}

double LrSchedule::wsd_shape(double r) const {
  switch (wsd_shape_) {
    case WsdShape::linear:
      return 1 - r;
    case WsdShape::cosine:
      return (1 + std::cos(kPi * r)) / 2;
    case WsdShape::sqrt:
      return 1 - std::sqrt(r);
    case WsdShape::exponential:
      return (std::pow(exp_ratio_, r) - exp_ratio_) / (1 - exp_ratio_);
  }
  return 0;
}

std::optional<double> LrSchedule::switch_step() const {
  if (!hybrid_) return std::nullopt;
  return static_cast<double>(warmup_) + hybrid_->switch_s;
}

std::optional<int64_t> LrSchedule::wsd_decay_start() const {
  if (style_ != ScheduleStyle::wsd) return std::nullopt;
  return decay_ - wsd_decay_;
}

std::optional<int64_t> LrSchedule::cooldown_start() const {
  if (cooldown_ == 0) return std::nullopt;
  return train_steps_ - cooldown_;
}

}  // namespace kiln
