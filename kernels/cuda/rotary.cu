#include "cuda/rotary.h"

#include <algorithm>
#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = int64_t{1} << 16;

// Each head has half = R/2 pair items (j < half: the pair (j, j + half)) followed by D − R
// pass-through items (j ≥ half: element R + j − half), W = half + D − R = D − half items in all. Consecutive
// threads take consecutive items, so a warp covers one or two heads' worth of contiguous memory.
template <bool kBackward>
__global__ void rotary_kernel(bf16_t* y, const bf16_t* x, const int32_t* pos, const float* cos_table,
                              const float* sin_table, int max_positions, int half, int N, int H, int D) {
  const int W = D - half;
  const int64_t total = int64_t{N} * H * W;
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t t = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t head = t / W;  // n·H + h
    const int j = static_cast<int>(t - head * W);
    const bf16_t* xh = x + head * D;
    bf16_t* yh = y + head * D;
    if (j < half) {
      const int p = pos[head / H];
      float c, s;
      if (p >= 0 && p < max_positions) {
        c = cos_table[int64_t{p} * half + j];
        s = sin_table[int64_t{p} * half + j];
      } else {
        c = s = __int_as_float(0x7fc00000);  // NaN: see rotary.h
      }
      if constexpr (kBackward) s = -s;
      const float x1 = ld(xh[j]);
      const float x2 = ld(xh[j + half]);
      const float y1 = x1 * c - x2 * s;
      const float y2 = x2 * c + x1 * s;
      if constexpr (kBackward) {
        yh[j] = to_bf16(ld(yh[j]) + y1);
        yh[j + half] = to_bf16(ld(yh[j + half]) + y2);
      } else {
        yh[j] = to_bf16(y1);
        yh[j + half] = to_bf16(y2);
      }
    } else {
      const int d = j + half;  // = R + (j − half)
      if constexpr (kBackward) {
        yh[d] = to_bf16(ld(yh[d]) + ld(xh[d]));
      } else if (yh != xh) {  // in place, the pass-through dimensions are already there
        yh[d] = xh[d];
      }
    }
  }
}

template <bool kBackward>
void launch(bf16_t* y, const bf16_t* x, const int32_t* pos, const float* cos, const float* sin, int max_positions,
            int rotary_dims, int N, int H, int D, cudaStream_t stream) {
  if (N <= 0 || H <= 0 || D <= 0) return;
  const int half = rotary_dims / 2;
  const int64_t total = int64_t{N} * H * (D - half);
  const auto blocks = static_cast<unsigned int>(std::clamp<int64_t>((total + kThreads - 1) / kThreads, 1, kMaxBlocks));
  rotary_kernel<kBackward><<<blocks, kThreads, 0, stream>>>(y, x, pos, cos, sin, max_positions, half, N, H, D);
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void rotary_forward(bf16_t* out, const bf16_t* inp, const int32_t* pos, const float* cos, const float* sin,
                    int max_positions, int rotary_dims, int N, int H, int D, cudaStream_t stream) {
  launch<false>(out, inp, pos, cos, sin, max_positions, rotary_dims, N, H, D, stream);
}

void rotary_backward(bf16_t* dinp, const bf16_t* dout, const int32_t* pos, const float* cos, const float* sin,
                     int max_positions, int rotary_dims, int N, int H, int D, cudaStream_t stream) {
  launch<true>(dinp, dout, pos, cos, sin, max_positions, rotary_dims, N, H, D, stream);
}

}  // namespace kiln::cuda
