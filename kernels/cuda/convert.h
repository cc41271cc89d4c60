// Copies between bf16 and fp32 device buffers: the optimizer's master weights (fp32) and the
// model's parameters and gradients (bf16) meet here, e.g. when masters are built from a bf16
// checkpoint or a bf16 buffer is inspected in fp32.
//
// bf16 → fp32 is exact (a shift). fp32 → bf16 rounds to nearest even, agreeing with kiln::to_bf16
// bit for bit on every finite value and ±Inf (values halfway past the largest bf16 and beyond
// become ±Inf); a NaN stays a NaN, though its payload may be replaced by the canonical one (the
// hardware conversion on sm_80+ does that). Exactly n elements are written (n <= 0: nothing);
// source and destination must not overlap. Asynchronous on `stream`.
//
// (CudaOps::convert's fp32 → bf16 lives in elementwise.h; these are the optimizer's own, with
// 64-bit counts and the widening direction as well.)
//
// Plain C++17, host only (the kernels are in convert.cu).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace kiln::cuda {

using bf16_t = __nv_bfloat16;

// out[i] = float(in[i]) for i < n.
void bf16_to_fp32(float* out, const bf16_t* in, int64_t n, cudaStream_t stream);

// out[i] = bf16(in[i]), round to nearest even, for i < n.
void fp32_to_bf16(bf16_t* out, const float* in, int64_t n, cudaStream_t stream);

}  // namespace kiln::cuda
