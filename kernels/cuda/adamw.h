// AdamW over a slice of kiln's flat buffers on the GPU: the twin of kernels/cpu/adamw.h.
//
// Same contract as cpu::adamw_update_groups: a data-parallel rank owns the slice
// [shard_begin, shard_end) of the flat layout, holds fp32 master weights and moments m, v for it,
// and updates the elements of the slice that lie in a parameter group with that group's learning
// rate and weight decay. Elements in no group (alignment padding) are never read or written.
//
// Arithmetic: bit for bit the CPU reference's. Per element, in fp32, in PyTorch's order (see
// cpu/adamw.h for the torch lines each step mirrors):
//
//   g  = grad · grad_scale
//   p  = p · decay                                  decay = 1 − lr·wd
//   m  = lerp(m, g, 1 − β1)                         torch's two-branch lerp
//   v  = v·β2 + ((1 − β2)·g)·g
//   p  = p + (neg_step_size·m) / (sqrt(v) / sqrt(1 − β2^t) + eps)   neg_step_size = −lr/(1 − β1^t)
//
// Every operation is written with the round-to-nearest intrinsics (__fmul_rn, __fadd_rn,
// __fdiv_rn, __fsqrt_rn). nvcc would otherwise contract a·b + c into one FMA, which rounds once
// where the CPU reference rounds twice (kiln builds for baseline x86-64, which has no FMA for g++
// to contract into); the intrinsics also pin division and square root to IEEE rounding whatever
// --use_fast_math says. Each fp32 operation is then correctly rounded on both sides, in the same
// order, from the same scalars (adamw_scalars below: computed in double on the host and rounded
// to fp32 once, exactly as cpu::adamw_update does), so masters, moments and bf16 outputs equal
// the CPU's bit for bit when the CPU is given the same (bf16-valued) gradients. (On a host where
// g++ may fuse, aarch64 or -march=native, the CPU reference itself changes by an ulp here and
// there unless kernels/cpu is built with -ffp-contract=off.)
//
// Work layout, multi-tensor style: a model's groups are hundreds of small ranges, so one launch
// per range would cost more in launch overhead than the update itself. At start-up the ranges,
// intersected with the slice, are cut into chunks of at most kAdamWChunkElements elements
// (adamw_chunks) and the chunk table goes to the device once; each step is one launch with one
// block per chunk. A chunk lies inside one range, so a block's group is uniform: no per-element
// search, and the lr-dependent scalars of every group travel by value in the launch arguments
// (they change every step; the ranges never do). The table costs 16 bytes per 8192 elements,
// against 12 bytes of optimizer state per element.
//
// Plain C++17, host only (the kernels are in adamw.cu).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::cuda {

using bf16_t = __nv_bfloat16;

// Distinct (lr_scale, weight_decay) pairs one launch can serve. µP models have three or four.
inline constexpr int kAdamWMaxGroups = 32;
// Elements per chunk: 256 threads × 32 elements, enough to amortise a block's set-up.
inline constexpr int64_t kAdamWChunkElements = 8192;

// One group range intersected with the slice, in slice-local indices (0 = shard_begin), and the
// index of its (lr_scale, weight_decay) pair in the AdamWScalars of each step.
struct AdamWRange {
  int64_t begin = 0;
  int64_t end = 0;
  int32_t group = 0;
};

// One block's work: `length` elements from slice-local index `begin`, all in group `group`.
struct AdamWChunk {
  int64_t begin;
  int32_t length;
  int32_t group;
};

// Cuts the ranges (non-overlapping, any order; empty ones are dropped) into the chunk table.
// Throws std::invalid_argument for a range with end < begin or a group outside
// [0, kAdamWMaxGroups).
inline std::vector<AdamWChunk> adamw_chunks(const std::vector<AdamWRange>& ranges) {
  std::vector<AdamWChunk> chunks;
  for (const AdamWRange& r : ranges) {
    if (r.end < r.begin || r.group < 0 || r.group >= kAdamWMaxGroups) {
      throw std::invalid_argument("adamw_chunks: bad range [" + std::to_string(r.begin) + ", " +
                                  std::to_string(r.end) + ") of group " + std::to_string(r.group));
    }
    for (int64_t b = r.begin; b < r.end; b += kAdamWChunkElements) {
      const int64_t len = r.end - b < kAdamWChunkElements ? r.end - b : kAdamWChunkElements;
      chunks.push_back({b, static_cast<int32_t>(len), r.group});
    }
  }
  return chunks;
}

// What depends on the group and the step's learning rate.
struct AdamWGroupScalars {
  float decay;          // fp32(1 − lr·wd), lr = base_lr · lr_scale
  float neg_step_size;  // fp32(−lr / (1 − β1^t))
};

// Everything one step's launch needs besides the buffers, already rounded to fp32.
struct AdamWScalars {
  float one_minus_beta1;
  float beta2;
  float one_minus_beta2;
  float bc2_sqrt;    // fp32(sqrt(1 − β2^t))
  float eps;
  float grad_scale;  // the clip coefficient
  int32_t n_groups;
  AdamWGroupScalars group[kAdamWMaxGroups];
};

// The scalars of update number `step` (1-based) with base learning rate base_lr, for n_groups
// groups whose lr multipliers and weight decays are lr_scales[k], weight_decays[k]. Computed in
// double and rounded once, with the very expressions of cpu::adamw_update (keep them in step).
// Inline so that it compiles with the same host compiler and flags as the CPU reference.
inline AdamWScalars adamw_scalars(double beta1, double beta2, double eps, int64_t step, double grad_scale,
                                  double base_lr, const double* lr_scales, const double* weight_decays,
                                  int n_groups) {
  if (step < 1) throw std::invalid_argument("adamw_scalars: step must be >= 1, got " + std::to_string(step));
  if (n_groups < 0 || n_groups > kAdamWMaxGroups) {
    throw std::invalid_argument("adamw_scalars: " + std::to_string(n_groups) + " groups (at most " +
                                std::to_string(kAdamWMaxGroups) + ")");
  }
  const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  AdamWScalars s{};
  s.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  s.beta2 = static_cast<float>(beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  s.bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  s.eps = static_cast<float>(eps);
  s.grad_scale = static_cast<float>(grad_scale);
  s.n_groups = n_groups;
  for (int k = 0; k < n_groups; ++k) {
    const double lr = base_lr * lr_scales[k];  // cpu::adamw_update_groups: base_lr * group.lr_scale
    s.group[k].decay = static_cast<float>(1.0 - lr * weight_decays[k]);
    s.group[k].neg_step_size = static_cast<float>(-(lr / bias_correction1));
  }
  return s;
}

// One AdamW step over the chunks. All buffers are slice-local (index 0 = the slice's first
// element), as cpu::AdamWBuffers: master, m, v (fp32, in place), grad (bf16, read and widened)
// and param_out (bf16, optional: nullptr skips it; receives the new masters rounded to nearest
// even). `chunks` is the device copy of adamw_chunks(...) with n_chunks entries; every chunk's
// group must be < scalars.n_groups. Buffers must not overlap. NaN/Inf gradients propagate (the
// caller skips steps with a non-finite norm). Asynchronous on `stream`; n_chunks == 0 is a no-op.
void adamw_update(float* master, float* m, float* v, const bf16_t* grad, bf16_t* param_out,
                  const AdamWChunk* chunks, int64_t n_chunks, const AdamWScalars& scalars,
                  cudaStream_t stream);

}  // namespace kiln::cuda
