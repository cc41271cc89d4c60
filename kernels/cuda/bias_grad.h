// A linear layer's bias outside the GEMM: its gradient (a column sum) and a plain broadcast.
//
// bias_grad_accumulate: dbias[o] += Σ_n dout[n, o] for o < OC (cpu/linear.h's dbias), layouts
// dout [N, OC] row-major, dbias [OC]. ACCUMULATES, as every backward does, which is why this is a
// kernel of its own rather than cuBLASLt's BGRADB epilogue: that epilogue overwrites the bias
// gradient. Deterministic in two passes with no atomics: pass 1 splits the rows into at most
// kBiasGradRowGroups consecutive groups and writes one fp32 partial sum per (group, column) into
// `partials` (rows summed in order inside a group); pass 2 adds each column's partials in group
// order and rounds once: dbias[o] = bf16(dbias[o] + Σ_g partials[g, o]). The result depends on N
// and OC only, never on timing.
//
// bias_broadcast_rows: out[n, o] = bias[o], or 0 when bias is null, for n < N, o < OC. OVERWRITES
// out. Used where a GEMM with K = 0 (IC = 0) leaves nothing but the bias, and where cuBLASLt's
// bias epilogue is unavailable for a shape, so the GEMM accumulates onto the broadcast bias.
//
// Host-callable, plain C++17; asynchronous on `stream`.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>

namespace kiln::cuda {

// Most row groups of bias_grad_accumulate's first pass: enough blocks to fill the GPU for the
// widths of a transformer's biases (OC ≥ 2048 gives ≥ 8 column tiles × 64 groups).
constexpr int kBiasGradRowGroups = 64;

// Bytes of fp32 partials bias_grad_accumulate needs for an [N, OC] dout.
size_t bias_grad_scratch_bytes(int N, int OC);

// dbias[OC] += column sums of dout[N, OC]; `partials` holds bias_grad_scratch_bytes(N, OC) bytes
// of device memory, used between the two passes and free again once the stream passes them.
// N, OC ≥ 0 (no work when either is 0). dbias must not overlap dout.
void bias_grad_accumulate(__nv_bfloat16* dbias, const __nv_bfloat16* dout, int N, int OC, float* partials,
                          cudaStream_t stream);

// out[N, OC] = bias broadcast over the rows (zeros when bias is null).
void bias_broadcast_rows(__nv_bfloat16* out, const __nv_bfloat16* bias, int N, int OC, cudaStream_t stream);

}  // namespace kiln::cuda
