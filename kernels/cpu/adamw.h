// AdamW over contiguous slices of kiln's flat buffers (CPU reference kernel).
//
// Kiln keeps every parameter in one flat buffer, every gradient in another, and the optimizer
// state (fp32 master weights, first moment m, second moment v) in flat buffers of the same layout
// (DESIGN.md, "Flat buffers"). Under ZeRO-1 a data-parallel rank owns one contiguous slice
// [shard_begin, shard_end) of that layout: it holds the master weights and moments for the slice
// only, receives the slice's averaged gradients from the reduce-scatter, updates them here, and
// writes the new bf16 parameters for its slice before the all-gather. A slice can cut through
// tensors and through parameter groups, so the group-aware entry point intersects each group's
// range with the slice.
//
// Arithmetic: per element, in fp32, in the order of PyTorch's torch.optim.AdamW single-tensor
// path (`_single_tensor_adam` with decoupled weight decay, the path CPU tensors take), with the
// per-call scalars computed in double as Python does and rounded to fp32 once:
//
//   g  = grad · grad_scale                      (clip_grad_norm_ scales the gradient in place)
//   p  = p · (1 − lr·wd)                        param.mul_(1 - lr * weight_decay), before Adam
//   m  = lerp(m, g, 1 − β1)                     exp_avg.lerp_(grad, 1 - beta1)
//   v  = v·β2 + ((1 − β2)·g)·g                  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
//   d  = sqrt(v) / sqrt(1 − β2^t) + eps         (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
//   p  = p + ((−lr/(1 − β1^t))·m) / d           param.addcdiv_(exp_avg, denom, value=-step_size)
//
// which is, mathematically, p ← p − lr·wd·p − lr·m̂/(sqrt(v̂) + eps) with m̂ = m/(1 − β1^t) and
// v̂ = v/(1 − β2^t): decoupled weight decay (Loshchilov & Hutter), applied to the weight as it was
// before this step. (llm.c folds the decay into the same subtraction; the result differs only in
// rounding.) Every element is independent, so the result is bitwise identical for any number of
// OpenMP threads and for any way of cutting [0, n) into slices.
#pragma once

#include <cstdint>
#include <span>

namespace kiln::cpu {

// The buffers of one slice. Every pointer addresses the slice's first element: the caller offsets
// the full buffers (or hands over a rank's shard-sized buffers) so that index 0 here is the
// slice's first element. All are read and written in place except `grad`.
struct AdamWBuffers {
  float* master = nullptr;        // fp32 master weights (the parameter itself when training in fp32)
  float* m = nullptr;             // first moment, starts at 0
  float* v = nullptr;             // second moment, starts at 0
  const float* grad = nullptr;    // fp32 gradient, averaged over the batch (see grad_scale)
  uint16_t* param_bf16 = nullptr; // optional: receives bf16 bits of the new master weights, rounded
                                  // to nearest even; nullptr skips the write
};

// What is shared by every element and group in one optimizer step.
struct AdamWStep {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  int64_t step = 1;          // 1-based: the number of updates including this one (bias correction)
  double grad_scale = 1.0;   // multiplies each gradient before it enters the moments; pass the
                             // clip coefficient (global_norm.h) here so clipping costs no extra
                             // pass over the gradients. Rounded to fp32, as torch's clip would be.
};

// Updates the n elements of one slice with learning rate `lr` (group multiplier already applied)
// and decoupled weight decay `weight_decay`.
//
// Preconditions: n >= 0; the buffers hold n elements each and do not overlap (param_bf16 may be
// null); step.step >= 1. NaN or Inf gradients propagate into the weights (the trainer must check
// the global norm and skip the step instead).
void adamw_update(const AdamWBuffers& buf, int64_t n, double lr, double weight_decay,
                  const AdamWStep& step);

// One parameter group's extent in the flat layout: global element indices [begin, end). µP gives
// hidden weight matrices lr_scale = width_scale, and biases and norms weight_decay = 0
// (SPEC.md §3). A model's groups are many small ranges (one or a few per tensor), not one range
// per group.
struct AdamWGroupRange {
  int64_t begin = 0;
  int64_t end = 0;
  double lr_scale = 1.0;
  double weight_decay = 0.0;
};

// Updates the slice [shard_begin, shard_end) of the flat layout: every element of the slice that
// lies in some group gets AdamW with lr = base_lr · group.lr_scale and the group's weight decay.
// As in torch with per-group lr, the decay uses the group's lr: a µP hidden matrix shrinks by
// base_lr · width_scale · wd per step.
// `shard` addresses the slice (element shard_begin of the layout is index 0 of each buffer).
//
// Groups may come in any order and may lie partly or wholly outside the slice; they must not
// overlap (an element in two groups would be updated twice). Elements of the slice in no group
// (alignment padding, say) are left untouched, moments and bf16 copy included.
void adamw_update_groups(const AdamWBuffers& shard, int64_t shard_begin, int64_t shard_end,
                         std::span<const AdamWGroupRange> groups, double base_lr,
                         const AdamWStep& step);

}  // namespace kiln::cpu
