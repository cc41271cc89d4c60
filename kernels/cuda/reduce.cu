#include "cuda/reduce.h"

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 1024;

__global__ void sum_floats_to_double_kernel(double* out, const float* values, int n) {
  __shared__ double partial[kThreads];
  double s = 0.0;
  for (int i = threadIdx.x; i < n; i += kThreads) s += static_cast<double>(values[i]);
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[0] = partial[0];
}

}  // namespace

void sum_floats_to_double(double* out, const float* values, int n, cudaStream_t stream) {
  sum_floats_to_double_kernel<<<1, kThreads, 0, stream>>>(out, values, n);
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
