// Device-side helpers shared by kiln's CUDA kernels: bf16 ↔ fp32, warp and block reductions.
//
// Conventions of every kernel in kernels/cuda (docs/cuda-backend.md): tensors are bf16 in memory
// and fp32 in registers; each stored result is rounded once (__float2bfloat16_rn, which matches
// kiln::to_bf16 bit for bit); sums are accumulated in fp32 in a fixed order that does not depend on
// timing (no floating-point atomics), so a kernel gives the same bits on every run.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace kiln::cuda {

using bf16_t = __nv_bfloat16;

__device__ __forceinline__ float ld(const bf16_t& x) { return __bfloat162float(x); }
__device__ __forceinline__ float ld(const float& x) { return x; }
__device__ __forceinline__ bf16_t to_bf16(float x) { return __float2bfloat16_rn(x); }

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `shared` holds at least 32 floats. Includes the __syncthreads() that make back-to-back calls with
// the same `shared` safe.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : 0.0f;
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : -INFINITY;
  return warp_max(v);
}

inline unsigned int ceil_div(int64_t n, int64_t d) { return static_cast<unsigned int>((n + d - 1) / d); }

// Whether a pointer allows 16-byte vector accesses (8 bf16 or 4 fp32 at once).
inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// W consecutive bf16 elements widened to fp32, or fp32 values narrowed back with one rounding
// each. W = 8 is one 16-byte access (p must be 16-byte aligned): bandwidth-bound kernels use it
// for the body of a row and W = 1 for the tail.
template <int W>
__device__ __forceinline__ void load_bf16(const bf16_t* p, float (&v)[W]) {
  if constexpr (W == 8) {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float2 f = __bfloat1622float2(h[k]);
      v[2 * k] = f.x;
      v[2 * k + 1] = f.y;
    }
  } else {
#pragma unroll
    for (int k = 0; k < W; ++k) v[k] = ld(p[k]);
  }
}

template <int W>
__device__ __forceinline__ void store_bf16(bf16_t* p, const float (&v)[W]) {
  if constexpr (W == 8) {
    uint4 raw;
    __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&raw);
#pragma unroll
    for (int k = 0; k < 4; ++k) h[k] = __floats2bfloat162_rn(v[2 * k], v[2 * k + 1]);
    *reinterpret_cast<uint4*>(p) = raw;
  } else {
#pragma unroll
    for (int k = 0; k < W; ++k) p[k] = to_bf16(v[k]);
  }
}

// The 8-wide forms under the names the elementwise kernels use, with an fp32 source as well.
__device__ __forceinline__ void load8(const bf16_t* p, float (&v)[8]) { load_bf16<8>(p, v); }
__device__ __forceinline__ void load8(const float* p, float (&v)[8]) {
  const float4 a = reinterpret_cast<const float4*>(p)[0];
  const float4 b = reinterpret_cast<const float4*>(p)[1];
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
  v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
__device__ __forceinline__ void store8(bf16_t* p, const float (&v)[8]) { store_bf16<8>(p, v); }

}  // namespace kiln::cuda
