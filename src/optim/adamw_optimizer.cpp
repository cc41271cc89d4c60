#include "optim/adamw_optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "cpu/global_norm.h"
#include "optim/param_groups.h"

namespace kiln {
namespace {

int64_t checked_slice_size(int64_t begin, int64_t end) {
  if (begin < 0 || end < begin) {
    throw std::invalid_argument("AdamWOptimizer: invalid slice [" + std::to_string(begin) + ", " +
                                std::to_string(end) + ") of the flat layout");
  }
  return end - begin;
}

}  // namespace

AdamWOptimizer::AdamWOptimizer(const ParamRegistry& registry, const OptimizerConfig& config,
                               const float* initial_params)
    : AdamWOptimizer(registry, config, initial_params, 0, registry.total_numel()) {}

AdamWOptimizer::AdamWOptimizer(const ParamRegistry& registry, const OptimizerConfig& config,
                               const float* initial_params, int64_t shard_begin, int64_t shard_end)
    : config_(config),
      groups_(build_group_ranges(registry, config)),
      shard_begin_(shard_begin),
      shard_end_(shard_end),
      master_(DType::fp32, checked_slice_size(shard_begin, shard_end)),
      m_(DType::fp32, shard_end - shard_begin),
      v_(DType::fp32, shard_end - shard_begin) {
  // Padding comes along with the tensors: it is zero in the caller's buffer and stays zero here.
  if (master_.numel() > 0) {
    std::memcpy(master_.data<float>(), initial_params + shard_begin_, master_.bytes());
  }
}

double AdamWOptimizer::local_sum_of_squares(const float* grads) const {
  return cpu::sum_of_squares(grads + shard_begin_, shard_end_ - shard_begin_);
}

StepResult AdamWOptimizer::step(const float* grads, double base_lr, ParamOutput out) {
  return step_with_norm(std::sqrt(local_sum_of_squares(grads)), grads, base_lr, out);
}

StepResult plan_step(double grad_norm, double grad_clip, int64_t steps_done) {
  StepResult result;
  result.grad_norm = grad_norm;
  result.clip_coef = cpu::clip_coefficient(grad_norm, grad_clip);
  result.skipped = !std::isfinite(grad_norm);
  result.step = steps_done;
  return result;
}

StepResult AdamWOptimizer::step_with_norm(double grad_norm, const float* grads, double base_lr, ParamOutput out) {
  StepResult result = plan_step(grad_norm, config_.grad_clip, step_);
  if (result.skipped) return result;  // the trainer logs it and goes on
  apply(grads, base_lr, result.clip_coef, out);
  result.step = step_;
  return result;
}

void AdamWOptimizer::apply(const float* grads, double base_lr, double clip_coef, ParamOutput out) {
  if ((out.fp32 == nullptr) == (out.bf16_bits == nullptr)) {
    throw std::invalid_argument("AdamWOptimizer: give exactly one output buffer, fp32 or bf16");
  }
  ++step_;
  cpu::AdamWStep s;
  s.beta1 = config_.beta1;
  s.beta2 = config_.beta2;
  s.eps = config_.eps;
  s.step = step_;
  s.grad_scale = clip_coef;

  cpu::AdamWBuffers shard;
  shard.master = master_.data<float>();
  shard.m = m_.data<float>();
  shard.v = v_.data<float>();
  shard.grad = grads + shard_begin_;
  // bf16: the kernel rounds each new master as it writes it, so the output costs no extra pass.
  shard.param_bf16 = out.bf16_bits != nullptr ? out.bf16_bits + shard_begin_ : nullptr;
  cpu::adamw_update_groups(shard, shard_begin_, shard_end_, groups_, base_lr, s);

  if (out.fp32 != nullptr) {
    // fp32: copy the updated masters of the grouped elements, leaving padding unwritten as the
    // bf16 path does.
    for (const cpu::AdamWGroupRange& g : groups_) {
      const int64_t begin = std::max(g.begin, shard_begin_);
      const int64_t end = std::min(g.end, shard_end_);
      if (begin >= end) continue;
      std::memcpy(out.fp32 + begin, shard.master + (begin - shard_begin_),
                  static_cast<size_t>(end - begin) * sizeof(float));
    }
  }
}

}  // namespace kiln
