// The shard loader's sample stream: several datasets blended by weight, each repeated epoch after
// epoch in a fresh random order.
//
// Global sample i is found in three steps, each a pure function of its inputs:
//   1. the blend (blend_schedule.h) names the dataset d and the index j of the sample within d's
//      own endless sequence;
//   2. j falls in epoch e = j / S_d (S_d samples per epoch): when a dataset runs out, its next
//      epoch starts (StableLM-3B-4E1T trained four epochs over its data);
//   3. epoch e visits d's samples in the order of a random permutation keyed by
//      (data seed, split, d, e), so every epoch is shuffled differently and every sample of an
//      epoch is seen exactly once.
// Nothing here depends on the number of ranks, the micro batch or where a run was resumed: the
// trainer maps (step, micro step, data-parallel rank) to global indices (step_slicing.h).
//
// State: the cursor plus the blend counters (DataState::blend_counts). Thread safety: fill() may
// be called from one thread while state_at() is called from another (the blend cursor is behind
// a mutex); the datasets themselves are read by whichever thread calls fill().
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "data/blend_schedule.h"
#include "data/data_source.h"
#include "data/sample_dataset.h"

namespace kiln {

struct BlendedDataset {
  std::shared_ptr<const SampleDataset> dataset;
  double weight = 1;  // relative; normalised over the blend
};

class BlendedSource final : public DataSource {
 public:
  // Throws std::invalid_argument for an empty blend or bad weights.
  BlendedSource(std::vector<BlendedDataset> datasets, int seq, uint64_t seed, Split split);

  void fill(BatchStorage& out, uint64_t first_sample) const override;
  void next(BatchStorage& out) override;
  DataState state_at(uint64_t next_sample) const override;
  uint64_t cursor() const override { return cursor_; }
  void restore(const DataState& state) override;
  std::string describe() const override;

  // Epochs of each dataset that samples [0, next_sample) have used (fractional).
  std::vector<double> epochs_at(uint64_t next_sample) const;
  const std::vector<BlendedDataset>& datasets() const { return datasets_; }

 private:
  std::vector<BlendedDataset> datasets_;
  int seq_;
  uint64_t seed_;
  Split split_;
  uint64_t fingerprint_;
  mutable std::mutex schedule_mutex_;
  mutable BlendSchedule schedule_;
  uint64_t cursor_ = 0;
};

}  // namespace kiln
