// Which global samples a data-parallel rank reads for each micro step.
//
// Step s consumes global samples [s·G, (s + 1)·G), G = micro_batch · grad_accum · dp_size. Rank r
// takes the contiguous block [s·G + r·A, s·G + (r + 1)·A), A = micro_batch · grad_accum, in
// micro-batch-sized pieces. Together the ranks read the same G samples per step whatever dp_size
// is (the loss of a step is averaged over all of them), which is what lets a run change its
// data-parallel size on resume without changing its data.
#pragma once

#include <cstdint>

namespace kiln {

struct StepSlicing {
  int64_t micro_batch = 1;
  int64_t grad_accum = 1;
  int64_t dp_size = 1;
  int64_t dp_rank = 0;

  uint64_t global_batch() const { return static_cast<uint64_t>(micro_batch * grad_accum * dp_size); }
  // Global index of the first sample of (step, micro_step) on this rank.
  uint64_t first_sample(int64_t step, int64_t micro_step) const {
    return static_cast<uint64_t>(step) * global_batch() + static_cast<uint64_t>(dp_rank * grad_accum * micro_batch) +
           static_cast<uint64_t>(micro_step * micro_batch);
  }
};

}  // namespace kiln
