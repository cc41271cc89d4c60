#include "cpu/adamw.h"

#include "tensor/bf16.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>

namespace kiln::cpu {
namespace {

// fp32 → bf16 bits, rounding to nearest, ties to even. bf16 is the top half of an fp32, so adding
// 0x7FFF plus the lowest kept bit and truncating rounds correctly: below the halfway point the
// carry never reaches bit 16, above it always does, and exactly at it only when the kept value is
// odd. Overflow carries into the exponent and gives Inf, as it should. NaN must be handled first,
// since the carry could turn a NaN with a small payload into Inf: keep the sign and force the
// quiet bit so that the truncated payload can't be zero.
// torch's lerp(start, end, weight): two formulas so that weight near 0 and near 1 are each exact at
// their end. With weight = 1 − β1 ≈ 0.1 only the first branch runs; the branch is uniform per call.
inline float torch_lerp(float start, float end, float weight) {
  return weight < 0.5f ? start + weight * (end - start) : end - (end - start) * (1.0f - weight);
}

// Below this many elements a parallel region costs more than it saves (bias and norm tensors are a
// few thousand elements). The choice doesn't affect results: elements are independent.
[[maybe_unused]] constexpr int64_t kMinParallelElements = int64_t{1} << 15;

}  // namespace

void adamw_update(const AdamWBuffers& buf, int64_t n, double lr, double weight_decay,
                  const AdamWStep& step) {
  assert(n >= 0 && step.step >= 1);
  // Per-call scalars in double, as torch computes them in Python, then rounded to fp32 once: the
  // element loop is pure fp32, like torch's kernels on fp32 tensors.
  const double bias_correction1 = 1.0 - std::pow(step.beta1, static_cast<double>(step.step));
  const double bias_correction2 = 1.0 - std::pow(step.beta2, static_cast<double>(step.step));
  const float decay = static_cast<float>(1.0 - lr * weight_decay);
  const float neg_step_size = static_cast<float>(-(lr / bias_correction1));
  const float bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float one_minus_beta1 = static_cast<float>(1.0 - step.beta1);
  const float beta2 = static_cast<float>(step.beta2);
  const float one_minus_beta2 = static_cast<float>(1.0 - step.beta2);
  const float eps = static_cast<float>(step.eps);
  const float grad_scale = static_cast<float>(step.grad_scale);

  float* const master = buf.master;
  float* const m_buf = buf.m;
  float* const v_buf = buf.v;
  const float* const grad = buf.grad;
  uint16_t* const param_bf16 = buf.param_bf16;

#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= kMinParallelElements)
#endif
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * grad_scale;
    float p = master[i] * decay;
    const float m = torch_lerp(m_buf[i], g, one_minus_beta1);
    const float v = v_buf[i] * beta2 + (one_minus_beta2 * g) * g;
    const float denom = std::sqrt(v) / bc2_sqrt + eps;
    p = p + (neg_step_size * m) / denom;
    m_buf[i] = m;
    v_buf[i] = v;
    master[i] = p;
    if (param_bf16 != nullptr) param_bf16[i] = to_bf16(p).bits;
  }
}

void adamw_update_groups(const AdamWBuffers& shard, int64_t shard_begin, int64_t shard_end,
                         std::span<const AdamWGroupRange> groups, double base_lr,
                         const AdamWStep& step) {
  assert(shard_begin <= shard_end);
  for (const AdamWGroupRange& group : groups) {
    assert(group.begin <= group.end);
    const int64_t begin = std::max(group.begin, shard_begin);
    const int64_t end = std::min(group.end, shard_end);
    if (begin >= end) continue;  // the group lies outside this rank's slice
    // Re-base the buffers from the slice's first element to the intersection's first element.
    const int64_t offset = begin - shard_begin;
    AdamWBuffers part;
    part.master = shard.master + offset;
    part.m = shard.m + offset;
    part.v = shard.v + offset;
    part.grad = shard.grad + offset;
    part.param_bf16 = shard.param_bf16 != nullptr ? shard.param_bf16 + offset : nullptr;
    adamw_update(part, end - begin, base_lr * group.lr_scale, group.weight_decay, step);
  }
}

}  // namespace kiln::cpu
