// Elementwise kernels on bf16 tensors: buffer fills, the MLP nonlinearities, residual addition,
// scaling and the row-parallel bias add. The math is the CPU reference's, op for op
// (cpu/mlp_activation.h, cpu/residual.h, cpu/linear.h's bias_add_forward), computed in fp32 from
// the widened bf16 inputs and rounded to bf16 once per stored element.
//
// These kernels move a few bytes per flop, so memory bandwidth is all that matters: each thread
// moves 16 bytes (8 bf16, or 4 fp32 twice) per access when every pointer of the call is 16-byte
// aligned, and falls back to one element per access otherwise. The vector path leaves the last
// n mod 8 elements to a scalar tail in the same kernel, so any n works either way.
//
// Conventions (ops.h): forwards OVERWRITE their outputs and may run in place (out equal to an
// input; any other overlap is not allowed); backwards ACCUMULATE (+=) into their gradients, which
// must not alias any input. n ≤ 0 is a no-op. Every launcher is asynchronous on `stream` and
// reports launch errors (KILN_CUDA_CHECK_LAUNCH). All counts are in elements.
//
// Plain C++17, host only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace kiln::cuda {

using bf16_t = __nv_bfloat16;

// out[i] = bf16(value).
void fill(bf16_t* out, float value, int64_t n, cudaStream_t stream);
// out[i] = bf16(inp[i]), round to nearest even (kiln::to_bf16 bit for bit). No overlap.
void convert_to_bf16(bf16_t* out, const float* inp, int64_t n, cudaStream_t stream);
// pos[b·T + t] = t for b < B, t < T.
void fill_positions(int32_t* pos, int B, int T, cudaStream_t stream);

// out = silu(gate)·up.
void swiglu_forward(bf16_t* out, const bf16_t* gate, const bf16_t* up, int64_t n, cudaStream_t stream);
// dgate += dout·up·silu′(gate), dup += dout·silu(gate).
void swiglu_backward(bf16_t* dgate, bf16_t* dup, const bf16_t* dout, const bf16_t* gate, const bf16_t* up,
                     int64_t n, cudaStream_t stream);
// out = x·Φ(x), the exact (erf) GELU.
void gelu_forward(bf16_t* out, const bf16_t* inp, int64_t n, cudaStream_t stream);
// dinp += dout·(Φ(x) + x·φ(x)).
void gelu_backward(bf16_t* dinp, const bf16_t* dout, const bf16_t* inp, int64_t n, cudaStream_t stream);

// out = a + b.
void residual_forward(bf16_t* out, const bf16_t* a, const bf16_t* b, int64_t n, cudaStream_t stream);
// da += dout, db += dout; either may be null (skipped). da and db must differ (CudaOps turns
// da == db into scale_backward by 2).
void residual_backward(bf16_t* da, bf16_t* db, const bf16_t* dout, int64_t n, cudaStream_t stream);
// out = s·inp.
void scale_forward(bf16_t* out, const bf16_t* inp, float s, int64_t n, cudaStream_t stream);
// dinp += s·dout.
void scale_backward(bf16_t* dinp, const bf16_t* dout, float s, int64_t n, cudaStream_t stream);

// out[r, o] += bias[o] for r < N, o < OC (in place on out [N, OC]; bias [OC]). The 16-byte path
// also needs OC to be a multiple of 8, so that no vector straddles two rows.
void bias_add_forward(bf16_t* out, const bf16_t* bias, int N, int OC, cudaStream_t stream);

}  // namespace kiln::cuda
