#include "cuda/global_norm.h"

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
// Independent loads in flight per thread per pass (2-byte loads need many to cover latency).
constexpr int kUnroll = 8;
constexpr int64_t kPass = int64_t{kThreads} * kUnroll;  // elements a block covers per pass
static_assert(kSquaresChunkElements % kPass == 0, "a chunk is whole passes of the block");

// Fixed-shape tree over the block's threads; thread 0 gets the sum.
__device__ __forceinline__ double block_sum_double(double s) {
  __shared__ double partial[kThreads];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    __syncthreads();
  }
  return partial[0];
}

// Adds the squares of x[base + u·kThreads] for u < kUnroll and base + u·kThreads < n to s, in
// order of u. The loads come first so that they are all in flight together.
__device__ __forceinline__ double add_squares(double s, const bf16_t* __restrict__ x, int64_t base, int64_t n) {
  float vals[kUnroll];
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t i = base + int64_t{u} * kThreads;
    vals[u] = i < n ? ld(x[i]) : 0.0f;
  }
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const double d = vals[u];
    s = fma(d, d, s);  // d·d is exact in double, so this rounds exactly as s + d·d does
  }
  return s;
}

// Pass 1 over [0, n): block b covers passes b, b + gridDim.x, … of kPass elements each.
__global__ void __launch_bounds__(kThreads)
    squares_partials_kernel(double* __restrict__ partials, const bf16_t* __restrict__ x, int64_t n) {
  double s = 0.0;
  const int64_t stride = int64_t{gridDim.x} * kPass;
  for (int64_t base = int64_t{blockIdx.x} * kPass + threadIdx.x; base < n; base += stride) {
    s = add_squares(s, x, base, n);
  }
  const double block = block_sum_double(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = block;
}

// Pass 1 over a chunk table: block b covers chunks b, b + gridDim.x, …
__global__ void __launch_bounds__(kThreads)
    squares_partials_chunks_kernel(double* __restrict__ partials, const bf16_t* __restrict__ x,
                                   const SquaresChunk* __restrict__ chunks, int64_t n_chunks) {
  double s = 0.0;
  for (int64_t c = blockIdx.x; c < n_chunks; c += gridDim.x) {
    const SquaresChunk chunk = chunks[c];
    const bf16_t* const xc = x + chunk.begin;
    for (int64_t base = threadIdx.x; base < chunk.length; base += kPass) s = add_squares(s, xc, base, chunk.length);
  }
  const double block = block_sum_double(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = block;
}

// Pass 2: out[0] = the `count` partials added in a fixed order (0 when count is 0).
__global__ void __launch_bounds__(kThreads)
    sum_partials_kernel(double* __restrict__ out, const double* __restrict__ partials, int count) {
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += kThreads) s += partials[i];
  const double total = block_sum_double(s);
  if (threadIdx.x == 0) out[0] = total;
}

}  // namespace

void sum_of_squares(double* out, const bf16_t* x, int64_t n, double* partials, cudaStream_t stream) {
  int blocks = 0;
  if (n > 0) {
    const int64_t passes = (n + kPass - 1) / kPass;
    blocks = static_cast<int>(passes < kSumOfSquaresPartials ? passes : kSumOfSquaresPartials);
    squares_partials_kernel<<<blocks, kThreads, 0, stream>>>(partials, x, n);
    KILN_CUDA_CHECK_LAUNCH();
  }
  sum_partials_kernel<<<1, kThreads, 0, stream>>>(out, partials, blocks);
  KILN_CUDA_CHECK_LAUNCH();
}

void sum_of_squares_chunks(double* out, const bf16_t* x, const SquaresChunk* chunks, int64_t n_chunks,
                           double* partials, cudaStream_t stream) {
  int blocks = 0;
  if (n_chunks > 0) {
    blocks = static_cast<int>(n_chunks < kSumOfSquaresPartials ? n_chunks : kSumOfSquaresPartials);
    squares_partials_chunks_kernel<<<blocks, kThreads, 0, stream>>>(partials, x, chunks, n_chunks);
    KILN_CUDA_CHECK_LAUNCH();
  }
  sum_partials_kernel<<<1, kThreads, 0, stream>>>(out, partials, blocks);
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
