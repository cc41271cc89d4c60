#include "cuda/bias_grad.h"

#include <algorithm>
#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

// The row split of pass 1: groups of `rows` consecutive rows (the last may be shorter), at most
// kBiasGradRowGroups of them. A function of N alone, so the summation order is too.
struct RowGroups {
  int rows;
  int count;
};

RowGroups row_groups(int N) {
  if (N <= 0) return {0, 0};
  const int64_t rows = (int64_t{N} + kBiasGradRowGroups - 1) / kBiasGradRowGroups;
  return {static_cast<int>(rows), static_cast<int>((N + rows - 1) / rows)};
}

// Pass 1: partials[g, o] = Σ dout[n, o] over the rows n of group g, in row order. One thread per
// column: a warp reads 32 consecutive bf16 of a row, and the rows of a group stream through.
__global__ void column_partials_kernel(float* partials, const bf16_t* dout, int N, int OC, int rows) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= OC) return;
  const int g = blockIdx.y;
  const int64_t begin = int64_t{g} * rows;
  const int64_t end = begin + rows < N ? begin + rows : N;
  float acc = 0.0f;
  for (int64_t n = begin; n < end; ++n) acc += ld(dout[n * OC + o]);
  partials[int64_t{g} * OC + o] = acc;
}

// Pass 2: dbias[o] += Σ_g partials[g, o], groups in order, rounded to bf16 once.
__global__ void column_finish_kernel(bf16_t* dbias, const float* partials, int OC, int groups) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= OC) return;
  float s = 0.0f;
  for (int g = 0; g < groups; ++g) s += partials[int64_t{g} * OC + o];
  dbias[o] = to_bf16(ld(dbias[o]) + s);
}

__global__ void bias_broadcast_kernel(bf16_t* out, const bf16_t* bias, int64_t total, int OC) {
  const bf16_t zero = to_bf16(0.0f);
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x)
    out[i] = bias ? bias[i % OC] : zero;
}

}  // namespace

size_t bias_grad_scratch_bytes(int N, int OC) {
  const RowGroups g = row_groups(N);
  return static_cast<size_t>(g.count) * static_cast<size_t>(OC > 0 ? OC : 0) * sizeof(float);
}

void bias_grad_accumulate(bf16_t* dbias, const bf16_t* dout, int N, int OC, float* partials, cudaStream_t stream) {
  if (N <= 0 || OC <= 0) return;
  const RowGroups g = row_groups(N);
  const dim3 grid(ceil_div(OC, kThreads), static_cast<unsigned int>(g.count));
  column_partials_kernel<<<grid, kThreads, 0, stream>>>(partials, dout, N, OC, g.rows);
  KILN_CUDA_CHECK_LAUNCH();
  column_finish_kernel<<<ceil_div(OC, kThreads), kThreads, 0, stream>>>(dbias, partials, OC, g.count);
  KILN_CUDA_CHECK_LAUNCH();
}

void bias_broadcast_rows(bf16_t* out, const bf16_t* bias, int N, int OC, cudaStream_t stream) {
  if (N <= 0 || OC <= 0) return;
  const int64_t total = int64_t{N} * OC;
  // A grid-stride loop: a few waves of blocks cover any size without a huge grid.
  const unsigned int blocks = std::min<unsigned int>(ceil_div(total, kThreads), 4096u);
  bias_broadcast_kernel<<<blocks, kThreads, 0, stream>>>(out, bias, total, OC);
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
