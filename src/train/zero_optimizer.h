// The optimizer step of one rank under data parallelism, with ZeRO-1 sharding (DESIGN.md).
//
// The flat layout (registry) is padded to P' = S · dp elements, S = ⌈P / dp⌉, so the data-
// parallel ranks own equal contiguous shards [r·S, (r+1)·S) (the last one ends in zero padding
// when dp does not divide P: uneven parameter counts cost nothing else). One step:
//   1. reduce-scatter the gradient buffer over the DP group (sum; in fp32, or in bf16 when
//      parallel.grad_reduce_dtype is bf16, as StableLM-3B-4E1T did): each rank receives its
//      shard of the summed gradients. The forward passes scaled the loss by 1 / (unmasked
//      targets of the whole global step), so the sum is the global mean's gradient.
//   2. Σ g² over the shard, counting each parameter once (norm_ranges: under tensor parallelism
//      a replicated tensor counts on TP rank 0 only); all-reduced over DP and TP; √ = the
//      global norm, the same on every rank, so every rank makes the same skip/clip decision.
//   3. AdamW on the shard's fp32 masters and moments (AdamWOptimizer, 12 bytes per element of
//      the shard instead of per element of the model), writing the shard's new parameters in
//      the training precision;
//   4. all-gather the shards' parameters over DP, so every rank has the whole updated model.
// Gradient accumulation: the caller sums every micro batch into the gradient buffer first;
// communication happens once per step. With zero_stage 0 the same path runs with dp = 1 worth
// of sharding (every rank updates the whole buffer after an all-reduce).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "config/config.h"
#include "dist/communicator.h"
#include "optim/adamw_optimizer.h"
#include "tensor/buffer.h"
#include "tensor/param_registry.h"

namespace kiln {

// [begin, end) element ranges of the flat layout whose squares count towards the gradient norm.
using NormRanges = std::vector<std::pair<int64_t, int64_t>>;

class ZeroOptimizer {
 public:
  // params: the full flat fp32 parameter buffer (padded_numel(registry, dp) elements), as
  // initialised; the masters of this rank's shard are copied from it.
  // norm_ranges empty: every element counts.
  ZeroOptimizer(const ParamRegistry& registry, const Config& config, const float* params, Communicator& dp,
                Communicator& tp, NormRanges norm_ranges = {});

  static int64_t padded_numel(const ParamRegistry& registry, int64_t dp_size);

  // grads: full padded gradient buffer of this rank (its contents are consumed). On return
  // `params` (full, padded) holds the updated parameters as the model sees them: fp32, or bf16
  // values widened to fp32 for bf16 training.
  StepResult step(float* grads, double lr, float* params);

  const AdamWOptimizer& optimizer() const { return *optimizer_; }
  AdamWOptimizer& optimizer() { return *optimizer_; }  // checkpoints load the shard's state into it
  bool shards_over_dp() const { return shard_over_dp_; }
  int64_t shard_begin() const { return shard_begin_; }
  int64_t shard_size() const { return shard_size_; }

 private:
  double shard_sum_of_squares(const float* grads) const;

  Communicator& dp_;
  Communicator& tp_;
  bool shard_over_dp_;
  Precision precision_;
  Precision reduce_dtype_;
  int64_t padded_ = 0, shard_begin_ = 0, shard_size_ = 0;
  NormRanges norm_ranges_;
  std::optional<AdamWOptimizer> optimizer_;
  Buffer shard_grads_;    // fp32 [shard]
  Buffer reduce_bf16_;    // bf16 [padded] (bf16 reduction only)
  Buffer shard_bf16_;     // bf16 [shard] (bf16 reduction only)
  Buffer params_bf16_;    // bf16 [padded] (bf16 training only): the all-gather's buffer
};

}  // namespace kiln
