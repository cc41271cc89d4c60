#include "cuda/cross_entropy.h"

#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

// One block per row. 512 threads cover a 100k-entry row in ~25 16-byte loads each and leave room
// for several rows per SM; short rows simply leave threads idle.
constexpr int kThreads = 512;

// Thread threadIdx.x owns the K-element pieces starting at v = K·(threadIdx.x + i·kThreads); every
// pass below walks the row with this same mapping, which is what makes in-place writes safe.
template <int K>
__device__ __forceinline__ void zero_row(bf16_t* drow, int V) {
  float zero[K];
#pragma unroll
  for (int i = 0; i < K; ++i) zero[i] = 0.0f;
  for (int v = threadIdx.x * K; v < V; v += kThreads * K) store_bf16<K>(drow + v, zero);
}

// (m, s) ← the pair describing the union of (m, s) and (m2, s2), where a pair (m, s) stands for
// s = Σ e^(z − m) over some set of z. Symmetric in its arguments bit for bit (a sum of the same
// two products), so a butterfly leaves every lane with the same pair. (−∞, 0) is the empty set.
__device__ __forceinline__ void merge(float& m, float& s, float m2, float s2) {
  const float mn = fmaxf(m, m2);
  if (mn == -INFINITY) return;  // both empty: keep (−∞, 0) rather than make 0·e^NaN
  s = s * __expf(m - mn) + s2 * __expf(m2 - mn);
  m = mn;
}

// Merges every thread's pair; all threads get the block's pair. Contains the block's barrier.
__device__ __forceinline__ void block_merge(float& m, float& s, float* shared_m, float* shared_s) {
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
    merge(m, s, m2, s2);
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) {
    shared_m[warp] = m;
    shared_s[warp] = s;
  }
  __syncthreads();
  m = lane < kThreads / 32 ? shared_m[lane] : -INFINITY;
  s = lane < kThreads / 32 ? shared_s[lane] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
    merge(m, s, m2, s2);
  }
}

template <int K>
__global__ void __launch_bounds__(kThreads)
    softmax_cross_entropy_kernel(bf16_t* dlogits, float* losses, const bf16_t* logits, const int32_t* targets,
                                 const bf16_t* mask, int V, float logit_scale, float dloss_scale) {
  __shared__ float shared_m[32], shared_s[32];
  const int64_t n = blockIdx.x;
  const bf16_t* row = logits + n * V;
  bf16_t* drow = dlogits ? dlogits + n * V : nullptr;
  const float w = mask ? ld(mask[n]) : 1.0f;
  if (w == 0.0f) {  // uniform over the block: the whole block leaves here or none of it
    if (threadIdx.x == 0) losses[n] = 0.0f;
    if (drow) zero_row<K>(drow, V);
    return;
  }
  const int t = targets[n];
  const bool t_in = t >= 0 && t < V;
  // Read before block_merge's barrier, i.e. before any thread overwrites the row in place.
  const float zt = t_in ? logit_scale * ld(row[t]) : __int_as_float(0x7fc00000);  // NaN: caller bug

  // Pass 1: this thread's running (max, Σ e^(z − max)); one rescale per 8-element piece.
  float m = -INFINITY, s = 0.0f;
  for (int v = threadIdx.x * K; v < V; v += kThreads * K) {
    float z[K];
    load_bf16<K>(row + v, z);
    float piece_max = -INFINITY;
#pragma unroll
    for (int i = 0; i < K; ++i) {
      z[i] *= logit_scale;
      piece_max = fmaxf(piece_max, z[i]);
    }
    const float mn = fmaxf(m, piece_max);
    if (mn == -INFINITY) continue;  // nothing but −∞ so far
    float e = 0.0f;
#pragma unroll
    for (int i = 0; i < K; ++i) e += __expf(z[i] - mn);
    s = s * __expf(m - mn) + e;
    m = mn;
  }
  block_merge(m, s, shared_m, shared_s);
  if (threadIdx.x == 0) losses[n] = w * (m + logf(s) - zt);
  if (!drow) return;

  // Pass 2: the gradient, from the same exponentials recomputed (nothing parked in between).
  const float inv_sum = 1.0f / s;
  const float g = w * dloss_scale * logit_scale;
  for (int v = threadIdx.x * K; v < V; v += kThreads * K) {
    float x[K];
    load_bf16<K>(row + v, x);
#pragma unroll
    for (int i = 0; i < K; ++i) {
      float d = g * (__expf(logit_scale * x[i] - m) * inv_sum);
      if (v + i == t) d -= g;
      x[i] = d;
    }
    store_bf16<K>(drow + v, x);
  }
}

template <int K>
__global__ void __launch_bounds__(kThreads)
    vocab_parallel_ce_max_kernel(float* row_max, const bf16_t* logits, const bf16_t* mask, int V, float logit_scale) {
  __shared__ float shared[32];
  const int64_t n = blockIdx.x;
  if ((mask && ld(mask[n]) == 0.0f) || V == 0) {
    if (threadIdx.x == 0) row_max[n] = 0.0f;
    return;
  }
  const bf16_t* row = logits + n * V;
  float mx = -INFINITY;
  for (int v = threadIdx.x * K; v < V; v += kThreads * K) {
    float x[K];
    load_bf16<K>(row + v, x);
#pragma unroll
    for (int i = 0; i < K; ++i) mx = fmaxf(mx, logit_scale * x[i]);
  }
  mx = block_max(mx, shared);
  if (threadIdx.x == 0) row_max[n] = mx;
}

template <int K>
__global__ void __launch_bounds__(kThreads)
    vocab_parallel_ce_sums_kernel(float* sums, const bf16_t* logits, const int32_t* targets, const bf16_t* mask,
                                  const float* row_max, int N, int V, int vocab_begin, float logit_scale) {
  __shared__ float shared[32];
  const int64_t n = blockIdx.x;
  if (mask && ld(mask[n]) == 0.0f) {
    if (threadIdx.x == 0) {
      sums[n] = 0.0f;
      sums[N + n] = 0.0f;
    }
    return;
  }
  const bf16_t* row = logits + n * V;
  const float zmax = row_max[n];
  float acc = 0.0f;
  for (int v = threadIdx.x * K; v < V; v += kThreads * K) {
    float x[K];
    load_bf16<K>(row + v, x);
#pragma unroll
    for (int i = 0; i < K; ++i) acc += __expf(logit_scale * x[i] - zmax);
  }
  acc = block_sum(acc, shared);
  if (threadIdx.x == 0) {
    sums[n] = acc;
    const int64_t t = int64_t{targets[n]} - vocab_begin;
    sums[N + n] = (t >= 0 && t < V) ? logit_scale * ld(row[t]) : 0.0f;
  }
}

template <int K>
__global__ void __launch_bounds__(kThreads)
    vocab_parallel_ce_finish_kernel(bf16_t* dlogits, float* losses, const bf16_t* logits, const int32_t* targets,
                                    const bf16_t* mask, const float* row_max, const float* sums, int N, int V,
                                    int vocab_begin, float logit_scale, float dloss_scale) {
  const int64_t n = blockIdx.x;
  const bf16_t* row = logits + n * V;
  bf16_t* drow = dlogits ? dlogits + n * V : nullptr;
  const float w = mask ? ld(mask[n]) : 1.0f;
  if (w == 0.0f) {
    if (threadIdx.x == 0) losses[n] = 0.0f;
    if (drow) zero_row<K>(drow, V);
    return;
  }
  const float zmax = row_max[n];
  const float sum = sums[n];
  if (threadIdx.x == 0) losses[n] = w * (zmax + logf(sum) - sums[N + n]);
  if (!drow) return;
  const float inv_sum = 1.0f / sum;
  const float g = w * dloss_scale * logit_scale;
  const int64_t t = int64_t{targets[n]} - vocab_begin;  // the local target, if in [0, V)
  for (int v = threadIdx.x * K; v < V; v += kThreads * K) {
    float x[K];
    load_bf16<K>(row + v, x);
#pragma unroll
    for (int i = 0; i < K; ++i) {
      float d = g * (__expf(logit_scale * x[i] - zmax) * inv_sum);
      if (v + i == t) d -= g;
      x[i] = d;
    }
    store_bf16<K>(drow + v, x);
  }
}


// Whether rows can be walked 8 elements at a time: every row start 16-byte aligned.
bool vectorizable(int V, const void* logits, const void* dlogits) {
  return V % 8 == 0 && aligned16(logits) && (dlogits == nullptr || aligned16(dlogits));
}

}  // namespace

void softmax_cross_entropy(bf16_t* dlogits, float* losses, const bf16_t* logits, const int32_t* targets,
                           const bf16_t* mask, int N, int V, float logit_scale, float dloss_scale,
                           cudaStream_t stream) {
  if (N <= 0) return;
  if (vectorizable(V, logits, dlogits))
    softmax_cross_entropy_kernel<8>
        <<<N, kThreads, 0, stream>>>(dlogits, losses, logits, targets, mask, V, logit_scale, dloss_scale);
  else
    softmax_cross_entropy_kernel<1>
        <<<N, kThreads, 0, stream>>>(dlogits, losses, logits, targets, mask, V, logit_scale, dloss_scale);
  KILN_CUDA_CHECK_LAUNCH();
}

void vocab_parallel_ce_max(float* row_max, const bf16_t* logits, const bf16_t* mask, int N, int V_local,
                           float logit_scale, cudaStream_t stream) {
  if (N <= 0) return;
  if (vectorizable(V_local, logits, nullptr))
    vocab_parallel_ce_max_kernel<8><<<N, kThreads, 0, stream>>>(row_max, logits, mask, V_local, logit_scale);
  else
    vocab_parallel_ce_max_kernel<1><<<N, kThreads, 0, stream>>>(row_max, logits, mask, V_local, logit_scale);
  KILN_CUDA_CHECK_LAUNCH();
}

void vocab_parallel_ce_sums(float* sums, const bf16_t* logits, const int32_t* targets, const bf16_t* mask,
                            const float* row_max, int N, int V_local, int vocab_begin, float logit_scale,
                            cudaStream_t stream) {
  if (N <= 0) return;
  if (vectorizable(V_local, logits, nullptr))
    vocab_parallel_ce_sums_kernel<8><<<N, kThreads, 0, stream>>>(sums, logits, targets, mask, row_max, N, V_local,
                                                                   vocab_begin, logit_scale);
  else
    vocab_parallel_ce_sums_kernel<1><<<N, kThreads, 0, stream>>>(sums, logits, targets, mask, row_max, N, V_local,
                                                                   vocab_begin, logit_scale);
  KILN_CUDA_CHECK_LAUNCH();
}

void vocab_parallel_ce_finish(bf16_t* dlogits, float* losses, const bf16_t* logits, const int32_t* targets,
                              const bf16_t* mask, const float* row_max, const float* sums, int N, int V_local,
                              int vocab_begin, float logit_scale, float dloss_scale, cudaStream_t stream) {
  if (N <= 0) return;
  if (vectorizable(V_local, logits, dlogits))
    vocab_parallel_ce_finish_kernel<8><<<N, kThreads, 0, stream>>>(dlogits, losses, logits, targets, mask, row_max,
                                                                     sums, N, V_local, vocab_begin, logit_scale,
                                                                     dloss_scale);
  else
    vocab_parallel_ce_finish_kernel<1><<<N, kThreads, 0, stream>>>(dlogits, losses, logits, targets, mask, row_max,
                                                                     sums, N, V_local, vocab_begin, logit_scale,
                                                                     dloss_scale);
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
