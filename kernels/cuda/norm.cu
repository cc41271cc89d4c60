#include "cuda/norm.h"

#include <algorithm>
#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

constexpr int kWarp = 32;
// Row kernels: 8 warps per block, one row per warp.
constexpr int kRowThreads = 256;
constexpr int kRowsPerBlock = kRowThreads / kWarp;
// Column kernels: one column per thread.
constexpr int kColThreads = 256;



// ---- forward: one warp per row ----
//
// kLayerNorm: subtract the mean (LayerNorm); else RMSNorm (mean 0, no bias). W: elements per lane
// access (8 when C % 8 == 0 and every pointer is 16-byte aligned, else 1). Lane l handles the
// accesses starting at l·W, l·W + 32·W, …, so a warp reads 32·W consecutive elements at a time.
template <int W, bool kLayerNorm>
__global__ void norm_forward_kernel(bf16_t* out, float* mean, float* rstd, const bf16_t* inp, const bf16_t* weight,
                                    const bf16_t* bias, int N, int C, float eps) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int64_t row = int64_t{blockIdx.x} * kRowsPerBlock + threadIdx.x / kWarp;
  if (row >= N) return;  // the whole warp leaves together: the shuffles below stay full-warp
  const bf16_t* x = inp + row * C;
  bf16_t* o = out + row * C;

  // Two passes (the mean, then squares about it) as the CPU reference, for the same reason: the
  // one-pass E[x²] − E[x]² cancels when |mean| is large next to the spread.
  float m = 0.0f;
  if constexpr (kLayerNorm) {
    float sum = 0.0f;
    for (int c = lane * W; c < C; c += kWarp * W) {
      float v[W];
      load_bf16<W>(x + c, v);
#pragma unroll
      for (int k = 0; k < W; ++k) sum += v[k];
    }
    m = warp_sum(sum) / static_cast<float>(C);
  }
  float sq = 0.0f;
  for (int c = lane * W; c < C; c += kWarp * W) {
    float v[W];
    load_bf16<W>(x + c, v);
#pragma unroll
    for (int k = 0; k < W; ++k) {
      const float d = v[k] - m;
      sq += d * d;
    }
  }
  const float s = 1.0f / sqrtf(warp_sum(sq) / static_cast<float>(C) + eps);

  for (int c = lane * W; c < C; c += kWarp * W) {
    float v[W], w[W], y[W];
    load_bf16<W>(x + c, v);
    load_bf16<W>(weight + c, w);
#pragma unroll
    for (int k = 0; k < W; ++k) y[k] = (v[k] - m) * s * w[k];
    if (kLayerNorm && bias) {
      float b[W];
      load_bf16<W>(bias + c, b);
#pragma unroll
      for (int k = 0; k < W; ++k) y[k] += b[k];
    }
    store_bf16<W>(o + c, y);
  }
  if (lane == 0) {
    if (kLayerNorm && mean) mean[row] = m;
    if (rstd) rstd[row] = s;
  }
}

// ---- backward, input gradient: one warp per row ----
//
// With g = dout·weight and x̂ = (x − mean)·rstd:
//   dinp += rstd·(g − mean_c(g) − x̂·mean_c(g·x̂))        (RMSNorm: mean = 0 and no mean_c(g) term)
template <int W, bool kLayerNorm>
__global__ void norm_backward_dinp_kernel(bf16_t* dinp, const bf16_t* dout, const bf16_t* inp, const bf16_t* weight,
                                          const float* mean, const float* rstd, int N, int C) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int64_t row = int64_t{blockIdx.x} * kRowsPerBlock + threadIdx.x / kWarp;
  if (row >= N) return;
  const bf16_t* g_row = dout + row * C;
  const bf16_t* x_row = inp + row * C;
  bf16_t* dx_row = dinp + row * C;
  const float m = kLayerNorm ? mean[row] : 0.0f;
  const float s = rstd[row];

  float sum_g = 0.0f, sum_gx = 0.0f;
  for (int c = lane * W; c < C; c += kWarp * W) {
    float g[W], x[W], w[W];
    load_bf16<W>(g_row + c, g);
    load_bf16<W>(x_row + c, x);
    load_bf16<W>(weight + c, w);
#pragma unroll
    for (int k = 0; k < W; ++k) {
      const float gw = g[k] * w[k];
      sum_g += gw;
      sum_gx += gw * ((x[k] - m) * s);
    }
  }
  const float mean_g = kLayerNorm ? warp_sum(sum_g) / static_cast<float>(C) : 0.0f;
  const float mean_gx = warp_sum(sum_gx) / static_cast<float>(C);

  for (int c = lane * W; c < C; c += kWarp * W) {
    float g[W], x[W], w[W], dx[W];
    load_bf16<W>(g_row + c, g);
    load_bf16<W>(x_row + c, x);
    load_bf16<W>(weight + c, w);
    load_bf16<W>(dx_row + c, dx);
#pragma unroll
    for (int k = 0; k < W; ++k) {
      const float xhat = (x[k] - m) * s;
      dx[k] += s * (g[k] * w[k] - mean_g - xhat * mean_gx);
    }
    store_bf16<W>(dx_row + c, dx);
  }
}

// ---- backward, parameter gradients: deterministic column sums ----
//
// Pass 1, grid (⌈C / 256⌉, parts): block (·, p) sums rows [p·rows_per_part, (p+1)·rows_per_part) of
// its 256 columns in row order:
//   dw_part[p, c] = Σ_n dout[n, c]·x̂[n, c],   db_part[p, c] = Σ_n dout[n, c]
// Consecutive threads take consecutive columns, so each row is read coalesced.
template <bool kLayerNorm, bool kBias>
__global__ void norm_param_partials_kernel(float* dw_part, float* db_part, const bf16_t* dout, const bf16_t* inp,
                                           const float* mean, const float* rstd, int N, int C, int rows_per_part) {
  const int c = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (c >= C) return;
  const int part = static_cast<int>(blockIdx.y);
  const int r0 = part * rows_per_part;
  const int r1 = min(N, r0 + rows_per_part);
  float dw = 0.0f, db = 0.0f;
  // Unrolled so that several rows' loads are in flight at once; the additions stay in row order.
#pragma unroll 4
  for (int n = r0; n < r1; ++n) {
    const int64_t i = int64_t{n} * C + c;
    const float g = ld(dout[i]);
    const float m = kLayerNorm ? mean[n] : 0.0f;
    dw += g * ((ld(inp[i]) - m) * rstd[n]);
    if constexpr (kBias) db += g;
  }
  dw_part[int64_t{part} * C + c] = dw;
  if constexpr (kBias) db_part[int64_t{part} * C + c] = db;
}

// Pass 2: one thread per column adds the parts in order, then adds the total to the bf16 gradient
// once.
__global__ void norm_param_finish_kernel(bf16_t* dweight, bf16_t* dbias, const float* dw_part, const float* db_part,
                                         int parts, int C) {
  const int c = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (c >= C) return;
  float dw = 0.0f;
  for (int p = 0; p < parts; ++p) dw += dw_part[int64_t{p} * C + c];
  dweight[c] = to_bf16(ld(dweight[c]) + dw);
  if (dbias) {
    float db = 0.0f;
    for (int p = 0; p < parts; ++p) db += db_part[int64_t{p} * C + c];
    dbias[c] = to_bf16(ld(dbias[c]) + db);
  }
}

// Rows per slice and the number of slices, every slice non-empty.
struct RowParts {
  int rows_per_part, parts;
};

RowParts row_parts(int N) {
  const int target = std::min(kNormRowParts, N);
  const int rows_per_part = (N + target - 1) / target;
  return {rows_per_part, (N + rows_per_part - 1) / rows_per_part};
}

unsigned int row_blocks(int N) { return ceil_div(N, kRowsPerBlock); }

template <bool kLayerNorm>
void launch_forward(bf16_t* out, float* mean, float* rstd, const bf16_t* inp, const bf16_t* weight,
                    const bf16_t* bias, int N, int C, float eps, cudaStream_t stream) {
  if (N <= 0 || C <= 0) return;
  const bool vector = C % 8 == 0 && aligned16(out) && aligned16(inp) && aligned16(weight) && (!bias || aligned16(bias));
  if (vector) {
    norm_forward_kernel<8, kLayerNorm><<<row_blocks(N), kRowThreads, 0, stream>>>(out, mean, rstd, inp, weight, bias,
                                                                                  N, C, eps);
  } else {
    norm_forward_kernel<1, kLayerNorm><<<row_blocks(N), kRowThreads, 0, stream>>>(out, mean, rstd, inp, weight, bias,
                                                                                  N, C, eps);
  }
  KILN_CUDA_CHECK_LAUNCH();
}

// layernorm false: RMSNorm (mean and dbias unused).
void launch_backward(bool layernorm, bf16_t* dinp, bf16_t* dweight, bf16_t* dbias, const bf16_t* dout,
                     const bf16_t* inp, const bf16_t* weight, const float* mean, const float* rstd, int N, int C,
                     float* scratch, cudaStream_t stream) {
  if (N <= 0 || C <= 0) return;
  const bool vector = C % 8 == 0 && aligned16(dinp) && aligned16(dout) && aligned16(inp) && aligned16(weight);
  const unsigned int rows = row_blocks(N);
  if (layernorm) {
    if (vector)
      norm_backward_dinp_kernel<8, true><<<rows, kRowThreads, 0, stream>>>(dinp, dout, inp, weight, mean, rstd, N, C);
    else
      norm_backward_dinp_kernel<1, true><<<rows, kRowThreads, 0, stream>>>(dinp, dout, inp, weight, mean, rstd, N, C);
  } else {
    if (vector)
      norm_backward_dinp_kernel<8, false><<<rows, kRowThreads, 0, stream>>>(dinp, dout, inp, weight, mean, rstd, N, C);
    else
      norm_backward_dinp_kernel<1, false><<<rows, kRowThreads, 0, stream>>>(dinp, dout, inp, weight, mean, rstd, N, C);
  }
  KILN_CUDA_CHECK_LAUNCH();

  const RowParts rp = row_parts(N);
  float* dw_part = scratch;
  float* db_part = scratch + static_cast<size_t>(rp.parts) * C;
  const dim3 grid(ceil_div(C, kColThreads), static_cast<unsigned int>(rp.parts));
  if (!layernorm) {
    norm_param_partials_kernel<false, false><<<grid, kColThreads, 0, stream>>>(dw_part, nullptr, dout, inp, mean, rstd,
                                                                                N, C, rp.rows_per_part);
  } else if (dbias) {
    norm_param_partials_kernel<true, true><<<grid, kColThreads, 0, stream>>>(dw_part, db_part, dout, inp, mean, rstd,
                                                                              N, C, rp.rows_per_part);
  } else {
    norm_param_partials_kernel<true, false><<<grid, kColThreads, 0, stream>>>(dw_part, nullptr, dout, inp, mean, rstd,
                                                                               N, C, rp.rows_per_part);
  }
  KILN_CUDA_CHECK_LAUNCH();
  norm_param_finish_kernel<<<ceil_div(C, kColThreads), kColThreads, 0, stream>>>(
      dweight, layernorm ? dbias : nullptr, dw_part, db_part, rp.parts, C);
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void layernorm_forward(bf16_t* out, float* mean, float* rstd, const bf16_t* inp, const bf16_t* weight,
                       const bf16_t* bias, int N, int C, float eps, cudaStream_t stream) {
  launch_forward<true>(out, mean, rstd, inp, weight, bias, N, C, eps, stream);
}

void rmsnorm_forward(bf16_t* out, float* rstd, const bf16_t* inp, const bf16_t* weight, int N, int C, float eps,
                     cudaStream_t stream) {
  launch_forward<false>(out, nullptr, rstd, inp, weight, nullptr, N, C, eps, stream);
}

size_t norm_backward_scratch_bytes(int N, int C, bool with_bias) {
  if (N <= 0 || C <= 0) return 0;
  return static_cast<size_t>(row_parts(N).parts) * static_cast<size_t>(C) * sizeof(float) * (with_bias ? 2 : 1);
}

void layernorm_backward(bf16_t* dinp, bf16_t* dweight, bf16_t* dbias, const bf16_t* dout, const bf16_t* inp,
                        const bf16_t* weight, const float* mean, const float* rstd, int N, int C, float* scratch,
                        cudaStream_t stream) {
  launch_backward(true, dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, scratch, stream);
}

void rmsnorm_backward(bf16_t* dinp, bf16_t* dweight, const bf16_t* dout, const bf16_t* inp, const bf16_t* weight,
                      const float* rstd, int N, int C, float* scratch, cudaStream_t stream) {
  launch_backward(false, dinp, dweight, nullptr, dout, inp, weight, nullptr, rstd, N, C, scratch, stream);
}

}  // namespace kiln::cuda
