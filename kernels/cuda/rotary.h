// Partial rotary position embedding, GPT-NeoX rotate-half form, on the GPU (cpu/rotary.h states the
// math). For each token n, head h and i < R/2 the pair (x[i], x[i + R/2]) is rotated by the angle of
// position pos[n] and frequency i:
//
//   forward:  out[i] = x[i]·cos − x[i + R/2]·sin,    out[i + R/2] = x[i + R/2]·cos + x[i]·sin
//   backward: the same with −sin (the transpose), ACCUMULATED: dinp += rotateᵀ(dout)
//
// and dimensions [R, D) pass through (copied forward, added backward). cos and sin are the fp32
// tables CudaOps::prepare_rotary uploads, cpu::RotaryTable's numbers: [max_positions, R/2]
// row-major, row p for position p.
//
// One thread per rotated pair or passed-through element: a pair is read whole before either of its
// elements is written, so the forward may run in place (out == inp; any other overlap is not
// allowed). The backward's dinp must not alias dout. A position outside [0, max_positions) is a
// caller bug; instead of reading outside the table the token's rotated dimensions become NaN, which
// the loss then shows.
//
// Layout: x [N, H, D] row-major (N = B·T tokens), pos [N] int32. Requires 0 < R ≤ D, R even (the
// caller checks). N, H or D ≤ 0 is a no-op. Launchers are asynchronous on `stream`.
// Plain C++17, host only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace kiln::cuda {

using bf16_t = __nv_bfloat16;

void rotary_forward(bf16_t* out, const bf16_t* inp, const int32_t* pos, const float* cos, const float* sin,
                    int max_positions, int rotary_dims, int N, int H, int D, cudaStream_t stream);
void rotary_backward(bf16_t* dinp, const bf16_t* dout, const int32_t* pos, const float* cos, const float* sin,
                     int max_positions, int rotary_dims, int N, int H, int D, cudaStream_t stream);

}  // namespace kiln::cuda
