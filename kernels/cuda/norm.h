// LayerNorm and RMSNorm over the channels of each row, on the GPU (cpu/layernorm.h states the math:
// biased variance about a two-pass mean, rstd = 1/sqrt(var + eps), x̂ = (x − mean)·rstd).
//
// Forward: one warp per row. Each lane reads its share of the row (16 bytes at a time when C is a
// multiple of 8 and the pointers are 16-byte aligned), the statistics are fp32 warp sums, and the
// row is read again for the variance and for the output rather than held in registers, so any C
// works; the re-reads hit L1/L2 (a 2560-wide row is 5 KiB). mean and rstd are saved as fp32.
//
// Backward, two parts that read the same inputs:
//   - dinp: one warp per row, the two row means of cpu/layernorm.h, then one read-modify-write of
//     the row of dinp;
//   - dweight (and dbias): column sums over N rows, done in two deterministic passes without
//     atomics. Pass 1: the rows are cut into at most kNormRowParts consecutive slices and block
//     (column tile, slice) sums its slice's rows in order into fp32 partials in `scratch`. Pass 2:
//     one thread per column adds its partials in slice order and adds the total to the bf16
//     parameter gradient once. Same bits on every run.
//
// Contract (ops.h): forwards OVERWRITE out (and mean/rstd when not null; either may be null) and
// out must not alias inp; bias may be null. Backwards ACCUMULATE (+=) into dinp, dweight and dbias
// (dbias null: no bias); none of them may alias an input; mean and rstd are the forward's.
// Layouts row-major: inp, out, dinp, dout [N, C]; weight, bias, dweight, dbias [C]; mean, rstd
// [N]. N ≤ 0 or C ≤ 0 is a no-op. Launchers are asynchronous on `stream`.
// Plain C++17, host only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>

namespace kiln::cuda {

using bf16_t = __nv_bfloat16;

// Row slices of the parameter-gradient pass: enough blocks to fill the GPU for C ≥ 2048 without
// making pass 2 long (the same budget as CudaOps::kReduceRows).
constexpr int kNormRowParts = 64;

void layernorm_forward(bf16_t* out, float* mean, float* rstd, const bf16_t* inp, const bf16_t* weight,
                       const bf16_t* bias, int N, int C, float eps, cudaStream_t stream);
void rmsnorm_forward(bf16_t* out, float* rstd, const bf16_t* inp, const bf16_t* weight, int N, int C, float eps,
                     cudaStream_t stream);

// Bytes of fp32 scratch the backward passes need for the partial column sums: at most
// kNormRowParts × C floats for dweight, as many again for dbias.
size_t norm_backward_scratch_bytes(int N, int C, bool with_bias);

// scratch: norm_backward_scratch_bytes(N, C, dbias != nullptr) bytes, not used by anything else
// until this call's work on `stream` is done.
void layernorm_backward(bf16_t* dinp, bf16_t* dweight, bf16_t* dbias, const bf16_t* dout, const bf16_t* inp,
                        const bf16_t* weight, const float* mean, const float* rstd, int N, int C, float* scratch,
                        cudaStream_t stream);
void rmsnorm_backward(bf16_t* dinp, bf16_t* dweight, const bf16_t* dout, const bf16_t* inp, const bf16_t* weight,
                      const float* rstd, int N, int C, float* scratch, cudaStream_t stream);

}  // namespace kiln::cuda
