// Fused softmax cross-entropy on the GPU, single-rank and vocab-parallel: the math, masking and
// aliasing rules of cpu/cross_entropy.h, with bf16 logits and gradients and fp32 everything else.
//
// For row n with weight w = mask[n] (1 when mask is null), target t = targets[n] and scaled logits
// z = logit_scale · logits[n, :] (fp32 products of the bf16 logits):
//
//   losses[n]     = w · (log Σ_v e^z[v] − z[t])                                 (fp32)
//   dlogits[n, v] = bf16(w · dloss_scale · logit_scale · (softmax(z)[v] − [v == t]))
//
// One block per row. softmax_cross_entropy reads the row twice and never stores probabilities:
// pass 1 keeps a running (max, Σ e^(z − max)) per thread, rescaling the sum whenever the max
// grows ("online softmax"), then merges the pairs across the block; pass 2 recomputes each
// exponential and writes the gradient. dlogits may be exactly logits (in place: every element is
// read and then written by the same thread, and the target's logit is read before the block's
// first barrier, so before any write); otherwise it must not overlap logits. dlogits null =
// evaluation: losses only.
//
// Masked rows (w == 0) are skipped: loss 0, a zero dlogits row; their targets and logits are not
// read (they may be out of range, non-finite). An unmasked row whose target lies outside the
// vocabulary is a caller bug (the CPU reference asserts): here its loss is NaN, so the step's loss
// shows it, and no logit outside the row is read. Exponentials use the fast __expf: its relative
// error, ~1e-7 plus 2^-24 per unit of |argument| (the arguments are z − max ≤ 0), stays far below
// the bf16 rounding of the gradient and a few ulps of the fp32 loss.
//
// Rows whose length is a multiple of 8 with 16-byte aligned logits (and dlogits) are read and
// written 8 elements (16 bytes) at a time; other shapes (V not a multiple of 8) element by element.
// Sums run in a fixed order (per thread in index order, then a fixed tree), so results are the
// same on every run.
//
// The vocab-parallel trio follows cpu/cross_entropy.h exactly: logits [N, V_local] hold vocabulary
// entries [vocab_begin, vocab_begin + V_local); the caller reduces row_max (MAX) and sums ([2N],
// SUM) across the tensor-parallel group between the calls. Masked rows get row_max 0, sums 0,
// loss 0 and a zero dlogits row. V_local may be 0 (row_max 0, sums 0, nothing written to dlogits).
//
// None of these return the loss sum: CudaOps adds losses[] up deterministically afterwards.
// Host-callable, plain C++17; asynchronous on `stream`. N, V ≥ 0; no work when N is 0.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace kiln::cuda {

// OVERWRITES losses [N] and, if not null, dlogits [N, V]. V > 0.
void softmax_cross_entropy(__nv_bfloat16* dlogits, float* losses, const __nv_bfloat16* logits,
                           const int32_t* targets, const __nv_bfloat16* mask, int N, int V, float logit_scale,
                           float dloss_scale, cudaStream_t stream);

// row_max[n] = max_v logit_scale · logits[n, v] over the local entries (0 for masked rows or
// V_local = 0). OVERWRITES row_max [N].
void vocab_parallel_ce_max(float* row_max, const __nv_bfloat16* logits, const __nv_bfloat16* mask, int N,
                           int V_local, float logit_scale, cudaStream_t stream);

// sums[n] = Σ_v e^(z[n, v] − row_max[n]) over the local entries; sums[N + n] = z[n, t] when the
// target t is local, else 0 (both 0 for masked rows). OVERWRITES sums [2N].
void vocab_parallel_ce_sums(float* sums, const __nv_bfloat16* logits, const int32_t* targets,
                            const __nv_bfloat16* mask, const float* row_max, int N, int V_local, int vocab_begin,
                            float logit_scale, cudaStream_t stream);

// losses[n] = w · (row_max[n] + log sums[n] − sums[N + n]); dlogits (if not null; may be exactly
// logits) = w · dloss_scale · logit_scale · (e^(z − row_max) / sums[n] − [v == t − vocab_begin]).
// OVERWRITES losses [N] and dlogits [N, V_local].
void vocab_parallel_ce_finish(__nv_bfloat16* dlogits, float* losses, const __nv_bfloat16* logits,
                              const int32_t* targets, const __nv_bfloat16* mask, const float* row_max,
                              const float* sums, int N, int V_local, int vocab_begin, float logit_scale,
                              float dloss_scale, cudaStream_t stream);

}  // namespace kiln::cuda
