#include "data/blend_schedule.h"

#include <numeric>
#include <stdexcept>
#include <string>

namespace kiln {

BlendSchedule::BlendSchedule(const std::vector<double>& weights) : weights_(weights), counts_(weights.size(), 0) {
  if (weights_.empty()) throw std::invalid_argument("blend: no datasets");
  double sum = 0;
  for (size_t d = 0; d < weights_.size(); ++d) {
    if (!(weights_[d] >= 0) || weights_[d] > 1e300)
      throw std::invalid_argument("blend: weight " + std::to_string(d) + " is " + std::to_string(weights_[d]) +
                                  "; weights must be finite and ≥ 0");
    sum += weights_[d];
  }
  if (sum <= 0) throw std::invalid_argument("blend: every weight is 0");
  for (double& w : weights_) w /= sum;
  checkpoints_.push_back(counts_);
}

size_t BlendSchedule::choose() const {
  const double n = static_cast<double>(cursor_ + 1);
  size_t best = 0;
  double best_lag = weights_[0] * n - static_cast<double>(counts_[0]);
  for (size_t d = 1; d < weights_.size(); ++d) {
    const double lag = weights_[d] * n - static_cast<double>(counts_[d]);
    if (lag > best_lag) {
      best_lag = lag;
      best = d;
    }
  }
  return best;
}

void BlendSchedule::seek(uint64_t i) {
  if (i < cursor_) {
    // Back to the last checkpoint at or before i (checkpoint 0 always exists).
    const uint64_t k = std::min<uint64_t>(i / kCheckpointEvery, checkpoints_.size() - 1);
    cursor_ = k * kCheckpointEvery;
    counts_ = checkpoints_[k];
  }
  while (cursor_ < i) {
    ++counts_[choose()];
    ++cursor_;
    if (cursor_ % kCheckpointEvery == 0 && cursor_ / kCheckpointEvery == checkpoints_.size())
      checkpoints_.push_back(counts_);
  }
}

std::pair<size_t, uint64_t> BlendSchedule::locate(uint64_t i) {
  if (weights_.size() == 1) return {0, i};
  seek(i);
  const size_t d = choose();
  return {d, counts_[d]};
}

std::vector<uint64_t> BlendSchedule::counts_at(uint64_t i) {
  if (weights_.size() == 1) return {i};
  seek(i);
  return counts_;
}

void BlendSchedule::restore(uint64_t i, const std::vector<uint64_t>& counts) {
  if (counts.size() != weights_.size())
    throw std::invalid_argument("blend counters name " + std::to_string(counts.size()) + " datasets, the blend has " +
                                std::to_string(weights_.size()));
  if (std::accumulate(counts.begin(), counts.end(), uint64_t{0}) != i)
    throw std::invalid_argument("blend counters sum to " +
                                std::to_string(std::accumulate(counts.begin(), counts.end(), uint64_t{0})) +
                                ", not to the " + std::to_string(i) + " samples consumed");
  cursor_ = i;
  counts_ = counts;
}

}  // namespace kiln
