#include "cuda/convert.h"

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
// Grid cap: with a grid-stride loop more blocks than the GPU can hold at once buy nothing.
constexpr int64_t kMaxBlocks = 65536;

unsigned int blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

__global__ void __launch_bounds__(kThreads)
    bf16_to_fp32_kernel(float* __restrict__ out, const bf16_t* __restrict__ in, int64_t n) {
  const int64_t stride = int64_t{gridDim.x} * kThreads;
  for (int64_t i = int64_t{blockIdx.x} * kThreads + threadIdx.x; i < n; i += stride) out[i] = ld(in[i]);
}

__global__ void __launch_bounds__(kThreads)
    fp32_to_bf16_kernel(bf16_t* __restrict__ out, const float* __restrict__ in, int64_t n) {
  const int64_t stride = int64_t{gridDim.x} * kThreads;
  for (int64_t i = int64_t{blockIdx.x} * kThreads + threadIdx.x; i < n; i += stride) out[i] = to_bf16(in[i]);
}

}  // namespace

void bf16_to_fp32(float* out, const bf16_t* in, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  bf16_to_fp32_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, in, n);
  KILN_CUDA_CHECK_LAUNCH();
}

void fp32_to_bf16(bf16_t* out, const float* in, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  fp32_to_bf16_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, in, n);
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
