// AdamWOptimizer: the optimizer state of one slice of the flat layout and the step that updates it.
//
// It owns fp32 master weights and the Adam moments m and v for the slice [shard_begin, shard_end)
// of the registry's flat layout (DESIGN.md, "Flat buffers"). Today a process takes the whole
// buffer; under ZeRO-1 each data-parallel rank will take its contiguous shard, and nothing here
// changes: the kernel already intersects the parameter groups with the slice (cpu/adamw.h).
//
// Addressing: every pointer the optimizer takes (initial parameters, gradients, output
// parameters) addresses element 0 of the *full* flat layout, and the optimizer touches only the
// slice's elements. That matches how ZeRO-1 will run: the reduce-scatter leaves a rank's averaged
// gradients in its slice of the full gradient buffer, and the all-gather fills the rest of the
// full parameter buffer from the slices the ranks wrote.
//
// One step, in two phases so that the norm can be summed across ranks in between:
//   1. local_sum_of_squares(grads): Σ g² over the slice (fixed order, double; global_norm.h);
//   2. the caller adds the ranks' sums (nothing to add in one process), takes the square root and
//      calls step_with_norm(norm, ...). When the norm is NaN or ±Inf the step is skipped: nothing
//      is written, and the step counter does not advance, so the bias correction of the next good
//      step is that of the first update it really is. Otherwise the clip coefficient
//      min(1, grad_clip / (norm + 1e-6)) goes to the kernel as grad_scale (clipping costs no pass
//      of its own) and the slice is updated with lr = base_lr · lr_scale per group and decoupled
//      weight decay (param_groups.h).
// step(grads, ...) does both phases for a single process; apply() is the bare update for a caller
// that has made the skip and clip decisions itself.
//
// Gradients must be averaged over the batch (the loss's mean), as the kernel expects, and the
// elements of the slice in no group (alignment padding, the tail of a DP-padded buffer) must be
// zero, as they are in zero-filled buffers that no kernel writes: they count towards the norm.
// Under tensor parallelism, counting replicated tensors once is the caller's business.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "config/config.h"
#include "cpu/adamw.h"
#include "tensor/bf16.h"
#include "tensor/buffer.h"
#include "tensor/param_registry.h"

namespace kiln {

// What one step did, for the metrics log.
struct StepResult {
  double grad_norm = 0.0;  // global L2 norm of the gradients, before clipping
  double clip_coef = 1.0;  // the factor the gradients were scaled by (1 when clipping is off or
                           // the norm is within grad_clip); when skipped, what clip_coefficient
                           // gives for the bad norm (NaN or 0) with clipping on
  bool skipped = false;    // the norm was not finite: no update, the step counter unchanged
  int64_t step = 0;        // updates done after this call (1-based number of this update)
};

// What both optimizers (this one and the GPU's CudaAdamWOptimizer) decide from the global norm
// before touching any state: the clip coefficient, and whether the step is skipped. One NaN or Inf
// gradient would poison every weight it reaches and both moments for good, so a bad step (loss
// spike in bf16, overflow) is dropped whole and the update counter keeps the next good step's
// bias correction right. `steps_done`: updates applied so far (the result's step when skipped).
StepResult plan_step(double grad_norm, double grad_clip, int64_t steps_done);

// Where the updated parameters of the slice go: the full flat parameter buffer, in fp32 (fp32
// training) or as bf16 bits rounded to nearest even (bf16 training). Exactly one is set. Only
// elements that belong to a tensor are written.
struct ParamOutput {
  float* fp32 = nullptr;
  uint16_t* bf16_bits = nullptr;

  static ParamOutput to_fp32(float* params) { return {params, nullptr}; }
  static ParamOutput to_bf16(uint16_t* params) { return {nullptr, params}; }
  // kiln::bf16 is a trivial wrapper of its bits, so a bf16 Buffer is an array of uint16_t bits.
  static ParamOutput to_bf16(kiln::bf16* params) { return {nullptr, reinterpret_cast<uint16_t*>(params)}; }
};

class AdamWOptimizer {
 public:
  // The whole flat layout: [0, registry.total_numel()).
  AdamWOptimizer(const ParamRegistry& registry, const OptimizerConfig& config, const float* initial_params);
  // The slice [shard_begin, shard_end). shard_end may pass total_numel() when the buffers are
  // padded to divide evenly among ranks; initial_params must then be that long too.
  // Copies the slice of initial_params into the masters; m and v start at zero, the step count at 0.
  // Throws std::logic_error for an unfinalized registry and std::invalid_argument for a slice with
  // shard_begin < 0 or shard_end < shard_begin.
  AdamWOptimizer(const ParamRegistry& registry, const OptimizerConfig& config, const float* initial_params,
                 int64_t shard_begin, int64_t shard_end);

  // Phase 1: Σ g² over the slice of the full gradient buffer `grads`.
  double local_sum_of_squares(const float* grads) const;

  // Phase 2, given the global gradient norm: skip, or clip and update (see the top of the file).
  // base_lr is the schedule's lr for this update (LrSchedule::at(step_count())).
  StepResult step_with_norm(double grad_norm, const float* grads, double base_lr, ParamOutput out);

  // Both phases in one process: step_with_norm(sqrt(local_sum_of_squares(grads)), ...).
  StepResult step(const float* grads, double base_lr, ParamOutput out);

  // The bare update: advances the step count and applies AdamW with grad_scale = clip_coef.
  // The caller has checked that the gradients are finite.
  void apply(const float* grads, double base_lr, double clip_coef, ParamOutput out);

  // State of the slice, index 0 = element shard_begin(), for checkpoints. Writable so that a
  // checkpoint can be loaded into it (together with set_step_count).
  std::span<float> masters() { return span_of(master_); }
  std::span<float> m() { return span_of(m_); }
  std::span<float> v() { return span_of(v_); }
  std::span<const float> masters() const { return span_of(master_); }
  std::span<const float> m() const { return span_of(m_); }
  std::span<const float> v() const { return span_of(v_); }

  int64_t step_count() const { return step_; }  // updates applied so far
  void set_step_count(int64_t steps) { step_ = steps; }

  int64_t shard_begin() const { return shard_begin_; }
  int64_t shard_end() const { return shard_end_; }
  const std::vector<cpu::AdamWGroupRange>& groups() const { return groups_; }
  const OptimizerConfig& config() const { return config_; }

  // Bytes of optimizer state held: masters, m and v, 12 bytes per slice element.
  size_t state_bytes() const { return master_.bytes() + m_.bytes() + v_.bytes(); }

 private:
  static std::span<float> span_of(Buffer& b) { return {b.data<float>(), static_cast<size_t>(b.numel())}; }
  static std::span<const float> span_of(const Buffer& b) {
    return {b.data<float>(), static_cast<size_t>(b.numel())};
  }

  OptimizerConfig config_;
  std::vector<cpu::AdamWGroupRange> groups_;
  int64_t shard_begin_;
  int64_t shard_end_;
  Buffer master_;
  Buffer m_;
  Buffer v_;
  int64_t step_ = 0;
};

}  // namespace kiln
