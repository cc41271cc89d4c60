// Which dataset each global sample comes from when several are blended by weight.
//
// The rule (deterministic, the same greedy as Megatron-LM's blending helper): sample i goes to
// the dataset whose count lags its share the most, d = argmax_d (w_d · (i + 1) − count_d), ties
// to the lowest d; counts then include sample i. After n samples every dataset has within one
// sample of w_d · n, at every n, so short runs and long runs see the mix the weights ask for.
//
// The choice for sample i depends on the counts before it, so the schedule walks forward from a
// cursor. locate() is fast when called in increasing order (the prefetch thread does that);
// going back rewinds to a saved checkpoint of the counters (one every 2^16 samples) and replays.
// The counters at the cursor are the "blend counters" of the data state (data_source.h):
// restoring them puts the cursor anywhere in O(1), without replaying from sample 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace kiln {

class BlendSchedule {
 public:
  // weights: one per dataset, ≥ 0, not all 0 (std::invalid_argument otherwise); normalised here.
  explicit BlendSchedule(const std::vector<double>& weights);

  // (dataset, index of the sample within that dataset's own sequence) for global sample i.
  std::pair<size_t, uint64_t> locate(uint64_t i);
  // How many of samples [0, i) each dataset provides.
  std::vector<uint64_t> counts_at(uint64_t i);
  // Moves the cursor to (i, counts) taken from counts_at(i) in an earlier run. Throws
  // std::invalid_argument when counts has the wrong length or does not sum to i.
  void restore(uint64_t i, const std::vector<uint64_t>& counts);

  size_t datasets() const { return weights_.size(); }
  const std::vector<double>& weights() const { return weights_; }

 private:
  void seek(uint64_t i);  // cursor_ = i
  size_t choose() const;  // the dataset of sample cursor_

  static constexpr uint64_t kCheckpointEvery = uint64_t{1} << 16;
  std::vector<double> weights_;
  uint64_t cursor_ = 0;
  std::vector<uint64_t> counts_;                     // samples [0, cursor_) per dataset
  std::vector<std::vector<uint64_t>> checkpoints_;   // counts at k · kCheckpointEvery
};

}  // namespace kiln
