// Fused causal multi-head attention on the GPU (flash-attention style): the CUDA counterpart of
// cpu/attention.h, with the same math, layouts and masks, but the T×T probability matrix is never
// stored. docs/cuda-attention.md describes the algorithm, tiling and memory.
//
// Math (identical to the CPU reference): for batch row b, head h and query i,
//   s[i, j] = scale · (q_i · k_j) − slope_h · (i − j)     for visible j, −∞ otherwise
//   out_i   = Σ_j softmax(s[i, :])_j · v_j
// where key j is visible from query i iff j ≤ i and (doc_ids == nullptr or doc[b, j] == doc[b, i]);
// the slope term is present only with ALiBi (alibi_slopes != nullptr). The diagonal is always
// visible, so no row is empty.
//
// Layouts, all row-major and device memory:
//   q, k, v, out, dout, dq, dk, dv   [B, T, H, D] bf16, each 16-byte aligned (kiln's arena aligns
//                                     tensors to 32 bytes; the launchers check)
//   lse                               [B, H, T] fp32: the natural log of Σ_j exp(s[i, j]) per row
//   alibi_slopes                      [H] fp32 (CudaOps::prepare_alibi), or nullptr
//   doc_ids                           [B, T] int32 (only equality matters), or nullptr
//
// Supported head dims: 16, 32, 64, 80, 96, 128 (attention_head_dim_supported); others throw
// std::invalid_argument. Any T ≥ 1 (not necessarily a multiple of the 64-row tile).
//
// Results are deterministic: every output element is reduced by one thread block in a fixed
// order; there are no atomics. Plain C++17: included by nvcc and by the host compiler.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace kiln::cuda {

struct AttentionShape {
  int B, T, H, D;
  float scale;                // multiplies q·k (ops.h, attention_scale)
  const float* alibi_slopes;  // [H] or nullptr
  const int32_t* doc_ids;     // [B, T] or nullptr
};

// True for the head dims the kernels are instantiated for.
bool attention_head_dim_supported(int D);

// Forward. OVERWRITES out [B, T, H, D] and lse [B, H, T]; lse is what attention_backward needs
// besides q, k, v and out. Outputs must not alias inputs.
void attention_forward(__nv_bfloat16* out, float* lse, const __nv_bfloat16* q, const __nv_bfloat16* k,
                       const __nv_bfloat16* v, const AttentionShape& shape, cudaStream_t stream);

// Backward, given dout and what the forward read and wrote (q, k, v, out, lse; same shape).
// ACCUMULATES into dq, dk, dv [B, T, H, D] (each element read, added to in fp32, rounded once to
// bf16). Two kernels: one computes dk and dv per key tile, the other dq per query tile, each
// recomputing the probabilities from lse, so no gradient needs atomics. The gradient buffers must
// not alias each other or any input.
void attention_backward(__nv_bfloat16* dq, __nv_bfloat16* dk, __nv_bfloat16* dv, const __nv_bfloat16* dout,
                        const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                        const __nv_bfloat16* out, const float* lse, const AttentionShape& shape,
                        cudaStream_t stream);

}  // namespace kiln::cuda
