#include "train/zero_optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/global_norm.h"
#include "tensor/bf16.h"

namespace kiln {

int64_t ZeroOptimizer::padded_numel(const ParamRegistry& registry, int64_t dp_size) {
  const int64_t p = registry.total_numel();
  return (p + dp_size - 1) / dp_size * dp_size;
}

ZeroOptimizer::ZeroOptimizer(const ParamRegistry& registry, const Config& config, const float* params,
                             Communicator& dp, Communicator& tp, NormRanges norm_ranges)
    : dp_(dp), tp_(tp), shard_over_dp_(config.parallel.zero_stage == 1), precision_(config.train.precision),
      reduce_dtype_(config.parallel.grad_reduce_dtype), norm_ranges_(std::move(norm_ranges)) {
  padded_ = padded_numel(registry, dp.size());
  const int64_t shards = shard_over_dp_ ? dp.size() : 1;
  shard_size_ = padded_ / shards;
  shard_begin_ = shard_over_dp_ ? dp.rank() * shard_size_ : 0;
  optimizer_.emplace(registry, config.optimizer, params, shard_begin_, shard_begin_ + shard_size_);
  shard_grads_ = Buffer(DType::fp32, shard_over_dp_ ? shard_size_ : 0);
  if (reduce_dtype_ == Precision::bf16) {
    reduce_bf16_ = Buffer(DType::bf16, padded_);
    shard_bf16_ = Buffer(DType::bf16, shard_over_dp_ ? shard_size_ : 0);
  }
  if (precision_ == Precision::bf16) params_bf16_ = Buffer(DType::bf16, padded_);
}

double ZeroOptimizer::shard_sum_of_squares(const float* grads) const {
  const int64_t lo = shard_begin_, hi = shard_begin_ + shard_size_;
  if (norm_ranges_.empty()) return optimizer_->local_sum_of_squares(grads);
  double s = 0;
  for (const auto& [b, e] : norm_ranges_) {
    const int64_t from = std::max(b, lo), to = std::min(e, hi);
    if (from < to) s += cpu::sum_of_squares(grads + from, to - from);
  }
  return s;
}

StepResult ZeroOptimizer::step(float* grads, double lr, float* params) {
  const size_t shard = static_cast<size_t>(shard_size_);
  // 1. Sum the ranks' gradients; this rank keeps (at least) its shard, in place in `grads`.
  if (dp_.size() > 1) {
    if (reduce_dtype_ == Precision::bf16) {
      // Rounding each rank's gradients to bf16 before the sum is what a bf16 reduction means
      // (the reduction itself accumulates pairs in fp32, see mpi_communicator.cpp).
      to_bf16(grads, reduce_bf16_.data<bf16>(), static_cast<size_t>(padded_));
      if (shard_over_dp_) {
        dp_.reduce_scatter(reduce_bf16_.raw(), shard_bf16_.raw(), shard, CommDType::bf16, ReduceOp::sum);
        to_float(shard_bf16_.data<bf16>(), grads + shard_begin_, shard);
      } else {
        dp_.all_reduce(reduce_bf16_.raw(), static_cast<size_t>(padded_), CommDType::bf16, ReduceOp::sum);
        to_float(reduce_bf16_.data<bf16>(), grads, static_cast<size_t>(padded_));
      }
    } else if (shard_over_dp_) {
      dp_.reduce_scatter(grads, shard_grads_.raw(), shard, CommDType::fp32, ReduceOp::sum);
      std::memcpy(grads + shard_begin_, shard_grads_.raw(), shard * sizeof(float));
    } else {
      dp_.all_reduce(grads, static_cast<size_t>(padded_), CommDType::fp32, ReduceOp::sum);
    }
  }

  // 2. The global norm: shards over DP, each parameter once over TP.
  double sq = shard_sum_of_squares(grads);
  if (shard_over_dp_) dp_.all_reduce(&sq, 1, CommDType::fp64, ReduceOp::sum);
  tp_.all_reduce(&sq, 1, CommDType::fp64, ReduceOp::sum);

  // 3. Update the shard.
  const ParamOutput out = precision_ == Precision::bf16 ? ParamOutput::to_bf16(params_bf16_.data<bf16>())
                                                        : ParamOutput::to_fp32(params);
  const StepResult r = optimizer_->step_with_norm(std::sqrt(sq), grads, lr, out);
  if (r.skipped) return r;  // every rank saw the same norm: nobody wrote, nothing to gather

  // 4. Every rank gets every shard's new parameters.
  if (shard_over_dp_ && dp_.size() > 1) {
    if (precision_ == Precision::bf16) {
      bf16* all = params_bf16_.data<bf16>();
      dp_.all_gather(all + shard_begin_, all, shard, CommDType::bf16);
    } else {
      dp_.all_gather(params + shard_begin_, params, shard, CommDType::fp32);
    }
  }
  if (precision_ == Precision::bf16) to_float(params_bf16_.data<bf16>(), params, static_cast<size_t>(padded_));
  return r;
}

}  // namespace kiln
