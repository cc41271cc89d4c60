// Fused causal attention (attention.h): FlashAttention-2-style tiling on bf16 tensor cores.
//
// Shape of every kernel here: a block of 4 warps owns one 64-row tile of one (b, h) head and loops
// over the 64-row tiles of the other side; each warp owns 16 of the block's rows for the whole
// kernel. Products of tiles run on tensor cores through nvcuda::wmma (bf16 inputs, fp32
// accumulation, 16×16×16 fragments). Everything elementwise (masks, ALiBi, softmax, dS) happens in
// shared memory in plain SIMT code, where the row and column of each value are known: wmma leaves
// the layout of a fragment's elements unspecified, so a fragment is only ever loaded, multiplied
// and stored. Per warp, those staging areas belong to that warp's 16 rows alone, so between the
// tensor-core and the SIMT phases a __syncwarp() suffices; __syncthreads() guards only the tiles
// all warps share.
//
// Forward (one block per query tile): online softmax over key tiles, O accumulated in fp32 in
// shared memory, lse = m + log Σ saved per row.
// Backward: delta_i = dout_i · out_i is recomputed where needed, P = exp(s − lse) is recomputed
// from the saved lse; one kernel per key tile accumulates dK, dV over the query tiles, another per
// query tile accumulates dQ over the key tiles. No atomics, fixed order: deterministic.
//
// Scores are kept in log2 units (multiplied by log2 e) so that exp2f does the exponentials; the
// saved lse is converted back to natural log, which is what the CPU reference's softmax implies.
#include "cuda/attention.h"

#include <mma.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kBr = 16 * kWarps;  // query rows per tile: 16 per warp
constexpr int kBc = 16 * kWarps;  // key rows per tile: 16 per warp in the dK/dV kernel
// The score staging areas are [64][kBc + 4] in every kernel, the dK/dV kernel's holding
// transposed scores [keys][queries]: one stride serves both only because the tiles are square.
static_assert(kBr == kBc, "the dK/dV kernel transposes the score tiles");
static_assert(kThreads == 2 * kBr, "two threads per query row compute delta in the dK/dV kernel");

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Strides in elements. Each pads its rows (16 bytes for bf16, 16 bytes for fp32) so that the 16
// rows a fragment reads do not fall into the same shared-memory banks; every stride stays a
// multiple of 16 bytes and every fragment starts at a multiple of 16 rows and 16 columns, so each
// fragment pointer is 32-byte aligned as wmma requires.
template <int D>
struct Strides {
  static constexpr int x = D + 8;    // bf16 tiles of q, k, v, dout: [64][D]
  static constexpr int s = kBc + 4;  // fp32 score tiles: [64][64]
  static constexpr int p = kBc + 8;  // bf16 probability / dS tiles: [64][64]
  static constexpr int o = D + 4;    // fp32 output / gradient rows: [64][D]
};

constexpr size_t align128(size_t bytes) { return (bytes + 127) / 128 * 128; }

constexpr size_t bf16_tile_bytes(int ld) { return align128(size_t(64) * ld * sizeof(bf16_t)); }
constexpr size_t f32_tile_bytes(int ld) { return align128(size_t(64) * ld * sizeof(float)); }
constexpr size_t row_bytes() { return align128(64 * sizeof(float)); }  // 64 floats or int32s

// Shared-memory layouts: byte offsets from the start of the dynamic shared memory.
template <int D>
struct ForwardLayout {
  using S = Strides<D>;
  static constexpr size_t q = 0;
  static constexpr size_t k = q + bf16_tile_bytes(S::x);
  static constexpr size_t v = k + bf16_tile_bytes(S::x);
  static constexpr size_t s = v + bf16_tile_bytes(S::x);  // fp32 scores [64][S::s]
  static constexpr size_t p = s + f32_tile_bytes(S::s);   // bf16 probabilities [64][S::p]
  static constexpr size_t o = p + bf16_tile_bytes(S::p);  // fp32 output accumulator [64][S::o]
  static constexpr size_t doc_q = o + f32_tile_bytes(S::o);
  static constexpr size_t doc_k = doc_q + row_bytes();
  static constexpr size_t bytes = doc_k + row_bytes();
};

template <int D>
struct BackwardDqLayout {
  using S = Strides<D>;
  static constexpr size_t q = 0;
  static constexpr size_t dout = q + bf16_tile_bytes(S::x);
  static constexpr size_t k = dout + bf16_tile_bytes(S::x);
  static constexpr size_t v = k + bf16_tile_bytes(S::x);
  // fp32 scores [64][S::s], then fp32 dP [64][S::s]; after the loop, the dq rows [64][S::o].
  static constexpr size_t s = v + bf16_tile_bytes(S::x);
  static constexpr size_t dp = s + f32_tile_bytes(S::s);
  static constexpr size_t ds = dp + f32_tile_bytes(S::s);  // bf16 dS [64][S::p]
  static constexpr size_t doc_q = ds + bf16_tile_bytes(S::p);
  static constexpr size_t doc_k = doc_q + row_bytes();
  static constexpr size_t bytes = doc_k + row_bytes();
  static_assert(size_t(64) * S::o * sizeof(float) <= dp + f32_tile_bytes(S::s) - s, "dq staging fits");
};

template <int D>
struct BackwardDkvLayout {
  using S = Strides<D>;
  static constexpr size_t k = 0;
  static constexpr size_t v = k + bf16_tile_bytes(S::x);
  static constexpr size_t q = v + bf16_tile_bytes(S::x);
  static constexpr size_t dout = q + bf16_tile_bytes(S::x);
  // fp32 Sᵀ [keys][queries], then fp32 dPᵀ; after the loop, the dk or dv rows [64][S::o].
  static constexpr size_t st = dout + bf16_tile_bytes(S::x);
  static constexpr size_t dpt = st + f32_tile_bytes(S::s);
  static constexpr size_t pt = dpt + f32_tile_bytes(S::s);  // bf16 Pᵀ [64][S::p]
  static constexpr size_t dst = pt + bf16_tile_bytes(S::p);  // bf16 dSᵀ [64][S::p]
  static constexpr size_t delta = dst + bf16_tile_bytes(S::p);
  static constexpr size_t lse = delta + row_bytes();
  static constexpr size_t doc_q = lse + row_bytes();
  static constexpr size_t doc_k = doc_q + row_bytes();
  static constexpr size_t bytes = doc_k + row_bytes();
  static_assert(size_t(64) * S::o * sizeof(float) <= pt - st, "dk/dv staging fits");
};

// The kernels declare no static shared memory, so this starts at the beginning of the block's
// shared window, 128-byte aligned.
extern __shared__ __align__(128) unsigned char attention_smem[];

template <class T>
__device__ __forceinline__ T* smem_at(size_t offset) {
  return reinterpret_cast<T*>(attention_smem + offset);
}

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16_t, wmma::row_major>;
using FragBRow = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16_t, wmma::row_major>;
using FragBCol = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16_t, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// Rows [t0, t0 + 64) of one head (head points at element (b, 0, h, 0); consecutive tokens are
// row_stride = H·D apart) into a shared tile with row stride D + 8. Rows at or past T are zeroed:
// masked probabilities are exactly 0, and 0 times a zero row stays 0 where 0 times stale shared
// memory (possibly NaN bits) would not.
template <int D>
__device__ void load_tile(bf16_t* tile, const bf16_t* head, int64_t row_stride, int t0, int T) {
  constexpr int kChunks = D / 8;  // 16-byte pieces per row
  constexpr int ld = Strides<D>::x;
  for (int idx = threadIdx.x; idx < 64 * kChunks; idx += kThreads) {
    const int r = idx / kChunks, c = idx % kChunks;
    const int t = t0 + r;
    uint4 val = make_uint4(0u, 0u, 0u, 0u);
    if (t < T) val = *reinterpret_cast<const uint4*>(head + t * row_stride + c * 8);
    *reinterpret_cast<uint4*>(tile + r * ld + c * 8) = val;
  }
}

// Document ids of tokens [t0, t0 + 64) of one row (doc points at doc_ids[b, 0]); positions at or
// past T get an id that is never compared (every mask test checks i < T first).
__device__ void load_docs(int* ids, const int32_t* doc, int t0, int T) {
  for (int r = threadIdx.x; r < 64; r += kThreads) ids[r] = t0 + r < T ? doc[t0 + r] : -1;
}

// Whether any query of [q0, q0 + 64) sees any key of [k0, k0 + 64) under the document mask: an
// exact test for arbitrary ids (only equality matters), so a tile it rejects holds only zeros of
// P. Block-uniform (it ends in __syncthreads_or); doc ids of both tiles must be in shared memory.
__device__ bool any_visible(const int* doc_q, const int* doc_k, int q0, int k0, int T) {
  int any = 0;
  for (int idx = threadIdx.x; idx < kBr * kBc; idx += kThreads) {
    const int r = idx / kBc, c = idx % kBc;
    const int i = q0 + r, j = k0 + c;
    if (i < T && j <= i && doc_q[r] == doc_k[c]) any = 1;
  }
  return __syncthreads_or(any) != 0;
}

__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  __nv_bfloat162 p = __floats2bfloat162_rn(lo, hi);  // .x (the lower address) holds lo
  return *reinterpret_cast<uint32_t*>(&p);
}

__device__ __forceinline__ float2 unpack_bf16x2(uint32_t bits) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&bits));
}

// Σ_d a[d]·b[d] over the 16-byte chunks half, half + 2, … of a D-wide row: the two lanes of a pair
// split a row between them. a is in shared memory, b in global memory (16-byte aligned).
template <int D>
__device__ float half_row_dot(const bf16_t* a, const bf16_t* b, int half) {
  float sum = 0.0f;
  for (int c8 = half; c8 < D / 8; c8 += 2) {
    const uint4 x = *reinterpret_cast<const uint4*>(a + c8 * 8);
    const uint4 y = *reinterpret_cast<const uint4*>(b + c8 * 8);
    const uint32_t xs[4] = {x.x, x.y, x.z, x.w}, ys[4] = {y.x, y.y, y.z, y.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float2 xf = unpack_bf16x2(xs[e]), yf = unpack_bf16x2(ys[e]);
      sum += xf.x * yf.x;
      sum += xf.y * yf.y;
    }
  }
  return sum;
}

// dst[d] = bf16(mul·src[d]) (the forward's output, overwritten), or with accumulate
// dst[d] = bf16(float(dst[d]) + mul·src[d]) (the gradients), for the chunks half, half + 2, … of a
// D-wide row. src is fp32 in shared memory, dst a 16-byte aligned global bf16 row.
template <int D>
__device__ void store_half_row(bf16_t* dst, const float* src, float mul, bool accumulate, int half) {
  for (int c8 = half; c8 < D / 8; c8 += 2) {
    float x[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) x[e] = mul * src[c8 * 8 + e];
    uint4* p = reinterpret_cast<uint4*>(dst + c8 * 8);
    if (accumulate) {
      const uint4 old = *p;
      const uint32_t os[4] = {old.x, old.y, old.z, old.w};
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float2 f = unpack_bf16x2(os[e]);
        x[2 * e] += f.x;
        x[2 * e + 1] += f.y;
      }
    }
    *p = make_uint4(pack_bf16x2(x[0], x[1]), pack_bf16x2(x[2], x[3]), pack_bf16x2(x[4], x[5]),
                    pack_bf16x2(x[6], x[7]));
  }
}

// ---------------------------------------------------------------------------------------------
// Forward: one block per (query tile, h, b).

template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(bf16_t* __restrict__ out, float* __restrict__ lse, const bf16_t* __restrict__ q,
                             const bf16_t* __restrict__ k, const bf16_t* __restrict__ v,
                             const float* __restrict__ slopes, const int32_t* __restrict__ doc_ids, int T, int H,
                             float scale) {
  using L = ForwardLayout<D>;
  using S = Strides<D>;
  bf16_t* sQ = smem_at<bf16_t>(L::q);
  bf16_t* sK = smem_at<bf16_t>(L::k);
  bf16_t* sV = smem_at<bf16_t>(L::v);
  float* sS = smem_at<float>(L::s);
  bf16_t* sP = smem_at<bf16_t>(L::p);
  float* sO = smem_at<float>(L::o);
  int* sDocQ = smem_at<int>(L::doc_q);
  int* sDocK = smem_at<int>(L::doc_k);

  const int b = blockIdx.z, h = blockIdx.y;
  // Causality makes later query tiles the longest: launch them first so the short ones fill the
  // tail of the grid.
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kBr;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  // SIMT work on the warp's 16 rows: lanes 2r and 2r + 1 share row r, taking alternate columns.
  const int r = lane >> 1, half = lane & 1;
  const int row = warp * 16 + r;  // within the tile
  const int i = q0 + row;         // query position
  const int64_t stride = int64_t(H) * D;
  const int64_t head = (int64_t(b) * T * H + h) * D;
  const int32_t* doc = doc_ids ? doc_ids + int64_t(b) * T : nullptr;
  const float scale2 = scale * kLog2e;
  const float slope2 = slopes ? slopes[h] * kLog2e : 0.0f;

  load_tile<D>(sQ, q + head, stride, q0, T);
  if (doc) load_docs(sDocQ, doc, q0, T);
  for (int idx = threadIdx.x; idx < 64 * S::o; idx += kThreads) sO[idx] = 0.0f;

  const bf16_t* Qw = sQ + warp * 16 * S::x;
  float* Sw = sS + warp * 16 * S::s;
  bf16_t* Pw = sP + warp * 16 * S::p;
  float* Ow = sO + warp * 16 * S::o;

  // Running maximum (log2 units) and sum of the row; both lanes of a pair hold the same values.
  float m_run = -INFINITY, l_run = 0.0f;
  // Keys past the tile's last row are in every row's future.
  const int key_end = min(T, q0 + kBr);
  const int n_tiles = (key_end + kBc - 1) / kBc;
  for (int kt = 0; kt < n_tiles; ++kt) {
    const int k0 = kt * kBc;
    __syncthreads();  // the previous tile's K, V and ids are no longer read (and sQ, sO are ready)
    if (doc) {
      load_docs(sDocK, doc, k0, T);
      __syncthreads();
      if (!any_visible(sDocQ, sDocK, q0, k0, T)) continue;  // block-uniform
    }
    load_tile<D>(sK, k + head, stride, k0, T);
    load_tile<D>(sV, v + head, stride, k0, T);
    __syncthreads();

    // S = Q Kᵀ for the warp's 16 rows: Kᵀ is K read column-major.
    {
      FragC acc[kBc / 16];
#pragma unroll
      for (int n = 0; n < kBc / 16; ++n) wmma::fill_fragment(acc[n], 0.0f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        FragA a;
        wmma::load_matrix_sync(a, Qw + kk * 16, S::x);
#pragma unroll
        for (int n = 0; n < kBc / 16; ++n) {
          FragBCol bk;
          wmma::load_matrix_sync(bk, sK + n * 16 * S::x + kk * 16, S::x);
          wmma::mma_sync(acc[n], a, bk, acc[n]);
        }
      }
#pragma unroll
      for (int n = 0; n < kBc / 16; ++n) wmma::store_matrix_sync(Sw + n * 16, acc[n], S::s, wmma::mem_row_major);
    }
    __syncwarp();

    // Mask, scale, bias, and the online softmax update of row r.
    float tile_max = -INFINITY;
    for (int c = half; c < kBc; c += 2) {
      const int j = k0 + c;
      const bool visible = i < T && j <= i && (doc == nullptr || sDocQ[row] == sDocK[c]);
      const float s = visible ? Sw[r * S::s + c] * scale2 - slope2 * static_cast<float>(i - j) : -INFINITY;
      Sw[r * S::s + c] = s;
      tile_max = fmaxf(tile_max, s);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    const float m_new = fmaxf(m_run, tile_max);
    // A row that has seen no visible key yet (a document starting later) keeps m = −∞; 0 then
    // stands in as the reference so that exp2(−∞ − 0) = 0 instead of exp2(−∞ + ∞) = NaN.
    const float m_ref = m_new == -INFINITY ? 0.0f : m_new;
    const float alpha = exp2f(m_run - m_ref);  // rescales what was accumulated (0 when nothing was)
    float sum = 0.0f;
    for (int c = half; c < kBc; c += 2) {
      // The row sum takes the bf16 value that the P·V product uses, so out is a convex
      // combination of the v rows with exactly the weights multiplied.
      const bf16_t p = to_bf16(exp2f(Sw[r * S::s + c] - m_ref));
      Pw[r * S::p + c] = p;
      sum += __bfloat162float(p);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l_run = l_run * alpha + sum;
    m_run = m_new;
    for (int c = half; c < D; c += 2) Ow[r * S::o + c] *= alpha;
    __syncwarp();

    // O += P V: the accumulator round-trips through shared memory, where it was rescaled.
    {
      FragA pf[kBc / 16];
#pragma unroll
      for (int kk = 0; kk < kBc / 16; ++kk) wmma::load_matrix_sync(pf[kk], Pw + kk * 16, S::p);
#pragma unroll
      for (int n = 0; n < D / 16; ++n) {
        FragC o;
        wmma::load_matrix_sync(o, Ow + n * 16, S::o, wmma::mem_row_major);
#pragma unroll
        for (int kk = 0; kk < kBc / 16; ++kk) {
          FragBRow bv;
          wmma::load_matrix_sync(bv, sV + kk * 16 * S::x + n * 16, S::x);
          wmma::mma_sync(o, pf[kk], bv, o);
        }
        wmma::store_matrix_sync(Ow + n * 16, o, S::o, wmma::mem_row_major);
      }
    }
    __syncwarp();
  }
  __syncwarp();

  if (i < T) {
    // Every real row saw its diagonal, whose weight is exp2(0) = 1, so l_run ≥ 1.
    store_half_row<D>(out + head + i * stride, Ow + r * S::o, 1.0f / l_run, false, half);
    if (half == 0) lse[(int64_t(b) * H + h) * T + i] = (m_run + log2f(l_run)) * kLn2;
  }
}

// ---------------------------------------------------------------------------------------------
// Backward, dQ: one block per (query tile, h, b), looping over key tiles.
//   dS = P ∘ (dout Vᵀ − delta),  dq += scale · dS K

template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_backward_dq_kernel(bf16_t* __restrict__ dq, const bf16_t* __restrict__ dout,
                                 const bf16_t* __restrict__ q, const bf16_t* __restrict__ k,
                                 const bf16_t* __restrict__ v, const bf16_t* __restrict__ out,
                                 const float* __restrict__ lse, const float* __restrict__ slopes,
                                 const int32_t* __restrict__ doc_ids, int T, int H, float scale) {
  using L = BackwardDqLayout<D>;
  using S = Strides<D>;
  bf16_t* sQ = smem_at<bf16_t>(L::q);
  bf16_t* sdO = smem_at<bf16_t>(L::dout);
  bf16_t* sK = smem_at<bf16_t>(L::k);
  bf16_t* sV = smem_at<bf16_t>(L::v);
  float* sS = smem_at<float>(L::s);
  float* sdP = smem_at<float>(L::dp);
  bf16_t* sdS = smem_at<bf16_t>(L::ds);
  int* sDocQ = smem_at<int>(L::doc_q);
  int* sDocK = smem_at<int>(L::doc_k);

  const int b = blockIdx.z, h = blockIdx.y;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kBr;  // longest first, as in the forward
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int r = lane >> 1, half = lane & 1;
  const int row = warp * 16 + r;
  const int i = q0 + row;
  const int64_t stride = int64_t(H) * D;
  const int64_t head = (int64_t(b) * T * H + h) * D;
  const int32_t* doc = doc_ids ? doc_ids + int64_t(b) * T : nullptr;
  const float scale2 = scale * kLog2e;
  const float slope2 = slopes ? slopes[h] * kLog2e : 0.0f;

  load_tile<D>(sQ, q + head, stride, q0, T);
  load_tile<D>(sdO, dout + head, stride, q0, T);
  if (doc) load_docs(sDocQ, doc, q0, T);
  __syncthreads();

  const bf16_t* Qw = sQ + warp * 16 * S::x;
  const bf16_t* dOw = sdO + warp * 16 * S::x;
  float* Sw = sS + warp * 16 * S::s;
  float* dPw = sdP + warp * 16 * S::s;
  bf16_t* dSw = sdS + warp * 16 * S::p;

  // Row statistics: delta_i = dout_i · out_i (= Σ_j P·dP, recomputed here) and the saved lse in
  // log2 units. The shuffle stays outside the branch: every lane must take part.
  float delta = 0.0f, lse2 = 0.0f;
  if (i < T) {
    delta = half_row_dot<D>(sdO + row * S::x, out + head + i * stride, half);
    lse2 = lse[(int64_t(b) * H + h) * T + i] * kLog2e;
  }
  delta += __shfl_xor_sync(0xffffffffu, delta, 1);

  FragC dqf[D / 16];
#pragma unroll
  for (int n = 0; n < D / 16; ++n) wmma::fill_fragment(dqf[n], 0.0f);

  const int key_end = min(T, q0 + kBr);
  const int n_tiles = (key_end + kBc - 1) / kBc;
  for (int kt = 0; kt < n_tiles; ++kt) {
    const int k0 = kt * kBc;
    __syncthreads();
    if (doc) {
      load_docs(sDocK, doc, k0, T);
      __syncthreads();
      if (!any_visible(sDocQ, sDocK, q0, k0, T)) continue;
    }
    load_tile<D>(sK, k + head, stride, k0, T);
    load_tile<D>(sV, v + head, stride, k0, T);
    __syncthreads();

    // S = Q Kᵀ and dP = dout Vᵀ for the warp's rows.
    {
      FragC s_acc[kBc / 16], dp_acc[kBc / 16];
#pragma unroll
      for (int n = 0; n < kBc / 16; ++n) {
        wmma::fill_fragment(s_acc[n], 0.0f);
        wmma::fill_fragment(dp_acc[n], 0.0f);
      }
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        FragA aq, ado;
        wmma::load_matrix_sync(aq, Qw + kk * 16, S::x);
        wmma::load_matrix_sync(ado, dOw + kk * 16, S::x);
#pragma unroll
        for (int n = 0; n < kBc / 16; ++n) {
          FragBCol bk, bv;
          wmma::load_matrix_sync(bk, sK + n * 16 * S::x + kk * 16, S::x);
          wmma::mma_sync(s_acc[n], aq, bk, s_acc[n]);
          wmma::load_matrix_sync(bv, sV + n * 16 * S::x + kk * 16, S::x);
          wmma::mma_sync(dp_acc[n], ado, bv, dp_acc[n]);
        }
      }
#pragma unroll
      for (int n = 0; n < kBc / 16; ++n) {
        wmma::store_matrix_sync(Sw + n * 16, s_acc[n], S::s, wmma::mem_row_major);
        wmma::store_matrix_sync(dPw + n * 16, dp_acc[n], S::s, wmma::mem_row_major);
      }
    }
    __syncwarp();

    // P = exp(s − lse) on visible keys, 0 elsewhere; dS = P ∘ (dP − delta) (scale applied at the end).
    for (int c = half; c < kBc; c += 2) {
      const int j = k0 + c;
      const bool visible = i < T && j <= i && (doc == nullptr || sDocQ[row] == sDocK[c]);
      const float p = visible ? exp2f(Sw[r * S::s + c] * scale2 - slope2 * static_cast<float>(i - j) - lse2) : 0.0f;
      dSw[r * S::p + c] = to_bf16(p * (dPw[r * S::s + c] - delta));
    }
    __syncwarp();

    // dQ += dS K.
    {
      FragA dsf[kBc / 16];
#pragma unroll
      for (int kk = 0; kk < kBc / 16; ++kk) wmma::load_matrix_sync(dsf[kk], dSw + kk * 16, S::p);
#pragma unroll
      for (int n = 0; n < D / 16; ++n) {
#pragma unroll
        for (int kk = 0; kk < kBc / 16; ++kk) {
          FragBRow bk;
          wmma::load_matrix_sync(bk, sK + kk * 16 * S::x + n * 16, S::x);
          wmma::mma_sync(dqf[n], dsf[kk], bk, dqf[n]);
        }
      }
    }
  }

  // The dq rows reuse the score area, which other warps may still be reading until here.
  __syncthreads();
  float* stage = sS + warp * 16 * S::o;
#pragma unroll
  for (int n = 0; n < D / 16; ++n) wmma::store_matrix_sync(stage + n * 16, dqf[n], S::o, wmma::mem_row_major);
  __syncwarp();
  if (i < T) store_half_row<D>(dq + head + i * stride, stage + r * S::o, scale, true, half);
}

// ---------------------------------------------------------------------------------------------
// Backward, dK and dV: one block per (key tile, h, b), looping over the query tiles that can see it.
//   Pᵀ = exp(K Qᵀ·scale + bias − lse),  dv += Pᵀ dout,  dSᵀ = Pᵀ ∘ (V doutᵀ − delta),  dk += scale · dSᵀ Q

template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_backward_dkv_kernel(bf16_t* __restrict__ dk, bf16_t* __restrict__ dv,
                                  const bf16_t* __restrict__ dout, const bf16_t* __restrict__ q,
                                  const bf16_t* __restrict__ k, const bf16_t* __restrict__ v,
                                  const bf16_t* __restrict__ out, const float* __restrict__ lse,
                                  const float* __restrict__ slopes, const int32_t* __restrict__ doc_ids, int T,
                                  int H, float scale) {
  using L = BackwardDkvLayout<D>;
  using S = Strides<D>;
  bf16_t* sK = smem_at<bf16_t>(L::k);
  bf16_t* sV = smem_at<bf16_t>(L::v);
  bf16_t* sQ = smem_at<bf16_t>(L::q);
  bf16_t* sdO = smem_at<bf16_t>(L::dout);
  float* sST = smem_at<float>(L::st);
  float* sdPT = smem_at<float>(L::dpt);
  bf16_t* sPT = smem_at<bf16_t>(L::pt);
  bf16_t* sdST = smem_at<bf16_t>(L::dst);
  float* sDelta = smem_at<float>(L::delta);
  float* sLse = smem_at<float>(L::lse);
  int* sDocQ = smem_at<int>(L::doc_q);
  int* sDocK = smem_at<int>(L::doc_k);

  const int b = blockIdx.z, h = blockIdx.y;
  // Early key tiles are seen by the most query tiles, so the natural order already runs the
  // longest blocks first.
  const int k0 = blockIdx.x * kBc;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  // SIMT work on the warp's 16 key rows: lanes 2r and 2r + 1 share key row r, alternate queries.
  const int r = lane >> 1, half = lane & 1;
  const int krow = warp * 16 + r;
  const int j = k0 + krow;  // key position
  const int64_t stride = int64_t(H) * D;
  const int64_t head = (int64_t(b) * T * H + h) * D;
  const int32_t* doc = doc_ids ? doc_ids + int64_t(b) * T : nullptr;
  const float scale2 = scale * kLog2e;
  const float slope2 = slopes ? slopes[h] * kLog2e : 0.0f;

  load_tile<D>(sK, k + head, stride, k0, T);
  load_tile<D>(sV, v + head, stride, k0, T);
  if (doc) load_docs(sDocK, doc, k0, T);
  // (the loop's first __syncthreads publishes these)

  const bf16_t* Kw = sK + warp * 16 * S::x;
  const bf16_t* Vw = sV + warp * 16 * S::x;
  float* STw = sST + warp * 16 * S::s;
  float* dPTw = sdPT + warp * 16 * S::s;
  bf16_t* PTw = sPT + warp * 16 * S::p;
  bf16_t* dSTw = sdST + warp * 16 * S::p;

  FragC dkf[D / 16], dvf[D / 16];
#pragma unroll
  for (int n = 0; n < D / 16; ++n) {
    wmma::fill_fragment(dkf[n], 0.0f);
    wmma::fill_fragment(dvf[n], 0.0f);
  }

  // Query tiles before k0's tile see none of these keys (causality); every later one sees some.
  const int n_qtiles = (T + kBr - 1) / kBr;
  for (int qt = k0 / kBr; qt < n_qtiles; ++qt) {
    const int q0 = qt * kBr;
    __syncthreads();  // the previous query tile is no longer read
    if (doc) {
      load_docs(sDocQ, doc, q0, T);
      __syncthreads();
      if (!any_visible(sDocQ, sDocK, q0, k0, T)) continue;  // block-uniform
    }
    load_tile<D>(sQ, q + head, stride, q0, T);
    load_tile<D>(sdO, dout + head, stride, q0, T);
    __syncthreads();

    // delta and lse (log2 units) of the tile's 64 queries: threads 2c and 2c + 1 share query c.
    {
      const int c = threadIdx.x >> 1, c_half = threadIdx.x & 1;
      const int qi = q0 + c;
      float d = 0.0f;
      if (qi < T) d = half_row_dot<D>(sdO + c * S::x, out + head + qi * stride, c_half);
      d += __shfl_xor_sync(0xffffffffu, d, 1);
      if (c_half == 0) {
        sDelta[c] = d;
        sLse[c] = qi < T ? lse[(int64_t(b) * H + h) * T + qi] * kLog2e : 0.0f;
      }
    }
    __syncthreads();

    // Sᵀ = K Qᵀ, then dPᵀ = V doutᵀ, for the warp's 16 keys (one after the other, to hold fewer
    // accumulators beside dk and dv).
    {
      FragC acc[kBr / 16];
#pragma unroll
      for (int n = 0; n < kBr / 16; ++n) wmma::fill_fragment(acc[n], 0.0f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        FragA ak;
        wmma::load_matrix_sync(ak, Kw + kk * 16, S::x);
#pragma unroll
        for (int n = 0; n < kBr / 16; ++n) {
          FragBCol bq;
          wmma::load_matrix_sync(bq, sQ + n * 16 * S::x + kk * 16, S::x);
          wmma::mma_sync(acc[n], ak, bq, acc[n]);
        }
      }
#pragma unroll
      for (int n = 0; n < kBr / 16; ++n) wmma::store_matrix_sync(STw + n * 16, acc[n], S::s, wmma::mem_row_major);
    }
    {
      FragC acc[kBr / 16];
#pragma unroll
      for (int n = 0; n < kBr / 16; ++n) wmma::fill_fragment(acc[n], 0.0f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        FragA av;
        wmma::load_matrix_sync(av, Vw + kk * 16, S::x);
#pragma unroll
        for (int n = 0; n < kBr / 16; ++n) {
          FragBCol bdo;
          wmma::load_matrix_sync(bdo, sdO + n * 16 * S::x + kk * 16, S::x);
          wmma::mma_sync(acc[n], av, bdo, acc[n]);
        }
      }
#pragma unroll
      for (int n = 0; n < kBr / 16; ++n) wmma::store_matrix_sync(dPTw + n * 16, acc[n], S::s, wmma::mem_row_major);
    }
    __syncwarp();

    // Pᵀ and dSᵀ of key row r against queries c.
    for (int c = half; c < kBr; c += 2) {
      const int qi = q0 + c;
      const bool visible = qi < T && j <= qi && (doc == nullptr || sDocQ[c] == sDocK[krow]);
      const float p =
          visible ? exp2f(STw[r * S::s + c] * scale2 - slope2 * static_cast<float>(qi - j) - sLse[c]) : 0.0f;
      PTw[r * S::p + c] = to_bf16(p);
      dSTw[r * S::p + c] = to_bf16(p * (dPTw[r * S::s + c] - sDelta[c]));
    }
    __syncwarp();

    // dV += Pᵀ dout, dK += dSᵀ Q.
    {
      FragA pf[kBr / 16], dsf[kBr / 16];
#pragma unroll
      for (int kk = 0; kk < kBr / 16; ++kk) {
        wmma::load_matrix_sync(pf[kk], PTw + kk * 16, S::p);
        wmma::load_matrix_sync(dsf[kk], dSTw + kk * 16, S::p);
      }
#pragma unroll
      for (int n = 0; n < D / 16; ++n) {
#pragma unroll
        for (int kk = 0; kk < kBr / 16; ++kk) {
          FragBRow bdo, bq;
          wmma::load_matrix_sync(bdo, sdO + kk * 16 * S::x + n * 16, S::x);
          wmma::mma_sync(dvf[n], pf[kk], bdo, dvf[n]);
          wmma::load_matrix_sync(bq, sQ + kk * 16 * S::x + n * 16, S::x);
          wmma::mma_sync(dkf[n], dsf[kk], bq, dkf[n]);
        }
      }
    }
  }

  // The gradient rows reuse the score area, which other warps may still be reading until here.
  __syncthreads();
  float* stage = sST + warp * 16 * S::o;
#pragma unroll
  for (int n = 0; n < D / 16; ++n) wmma::store_matrix_sync(stage + n * 16, dvf[n], S::o, wmma::mem_row_major);
  __syncwarp();
  if (j < T) store_half_row<D>(dv + head + j * stride, stage + r * S::o, 1.0f, true, half);
  __syncwarp();
#pragma unroll
  for (int n = 0; n < D / 16; ++n) wmma::store_matrix_sync(stage + n * 16, dkf[n], S::o, wmma::mem_row_major);
  __syncwarp();
  if (j < T) store_half_row<D>(dk + head + j * stride, stage + r * S::o, scale, true, half);
}

// ---------------------------------------------------------------------------------------------
// Host side.

void check_shape(const AttentionShape& s, const char* op) {
  if (!attention_head_dim_supported(s.D))
    throw std::invalid_argument(std::string(op) + ": head dim D = " + std::to_string(s.D) +
                                " is not supported (16, 32, 64, 80, 96 or 128)");
  if (s.B < 0 || s.T < 0 || s.H < 0 || s.B > 65535 || s.H > 65535)
    throw std::invalid_argument(std::string(op) + ": B = " + std::to_string(s.B) + ", T = " + std::to_string(s.T) +
                                ", H = " + std::to_string(s.H) + " (each must be in [0, 65535], T ≥ 0)");
}

void check_aligned(const void* p, const char* what, const char* op) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
    throw std::invalid_argument(std::string(op) + ": " + what + " is not 16-byte aligned");
}

// Kernels with more than 48 KiB of dynamic shared memory must opt in, per kernel and device; the
// call is cheap next to the kernel, so it is made on every launch (no per-device bookkeeping).
template <class Kernel>
void allow_smem(Kernel kernel, size_t bytes) {
  KILN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

template <int D>
void launch_forward(bf16_t* out, float* lse, const bf16_t* q, const bf16_t* k, const bf16_t* v,
                    const AttentionShape& s, cudaStream_t stream) {
  const size_t smem = ForwardLayout<D>::bytes;
  allow_smem(attention_forward_kernel<D>, smem);
  const dim3 grid(ceil_div(s.T, kBr), s.H, s.B);
  attention_forward_kernel<D><<<grid, kThreads, smem, stream>>>(out, lse, q, k, v, s.alibi_slopes, s.doc_ids, s.T,
                                                                 s.H, s.scale);
  KILN_CUDA_CHECK_LAUNCH();
}

template <int D>
void launch_backward(bf16_t* dq, bf16_t* dk, bf16_t* dv, const bf16_t* dout, const bf16_t* q, const bf16_t* k,
                     const bf16_t* v, const bf16_t* out, const float* lse, const AttentionShape& s,
                     cudaStream_t stream) {
  const size_t smem_kv = BackwardDkvLayout<D>::bytes;
  allow_smem(attention_backward_dkv_kernel<D>, smem_kv);
  const dim3 grid_kv(ceil_div(s.T, kBc), s.H, s.B);
  attention_backward_dkv_kernel<D><<<grid_kv, kThreads, smem_kv, stream>>>(dk, dv, dout, q, k, v, out, lse,
                                                                           s.alibi_slopes, s.doc_ids, s.T, s.H,
                                                                           s.scale);
  KILN_CUDA_CHECK_LAUNCH();

  const size_t smem_q = BackwardDqLayout<D>::bytes;
  allow_smem(attention_backward_dq_kernel<D>, smem_q);
  const dim3 grid_q(ceil_div(s.T, kBr), s.H, s.B);
  attention_backward_dq_kernel<D><<<grid_q, kThreads, smem_q, stream>>>(dq, dout, q, k, v, out, lse, s.alibi_slopes,
                                                                        s.doc_ids, s.T, s.H, s.scale);
  KILN_CUDA_CHECK_LAUNCH();
}

// Calls f(std::integral_constant<int, D>{}) for the supported D.
template <class F>
void dispatch_head_dim(int D, F&& f) {
  switch (D) {
    case 16: f(std::integral_constant<int, 16>{}); break;
    case 32: f(std::integral_constant<int, 32>{}); break;
    case 64: f(std::integral_constant<int, 64>{}); break;
    case 80: f(std::integral_constant<int, 80>{}); break;
    case 96: f(std::integral_constant<int, 96>{}); break;
    case 128: f(std::integral_constant<int, 128>{}); break;
    default: throw std::invalid_argument("attention: head dim " + std::to_string(D) + " is not supported");
  }
}

}  // namespace

bool attention_head_dim_supported(int D) {
  return D == 16 || D == 32 || D == 64 || D == 80 || D == 96 || D == 128;
}

void attention_forward(bf16_t* out, float* lse, const bf16_t* q, const bf16_t* k, const bf16_t* v,
                       const AttentionShape& shape, cudaStream_t stream) {
  constexpr const char* op = "kiln::cuda::attention_forward";
  check_shape(shape, op);
  if (shape.B == 0 || shape.T == 0 || shape.H == 0) return;
  check_aligned(out, "out", op);
  check_aligned(q, "q", op);
  check_aligned(k, "k", op);
  check_aligned(v, "v", op);
  dispatch_head_dim(shape.D, [&](auto d) { launch_forward<decltype(d)::value>(out, lse, q, k, v, shape, stream); });
}

void attention_backward(bf16_t* dq, bf16_t* dk, bf16_t* dv, const bf16_t* dout, const bf16_t* q, const bf16_t* k,
                        const bf16_t* v, const bf16_t* out, const float* lse, const AttentionShape& shape,
                        cudaStream_t stream) {
  constexpr const char* op = "kiln::cuda::attention_backward";
  check_shape(shape, op);
  if (shape.B == 0 || shape.T == 0 || shape.H == 0) return;
  check_aligned(dq, "dq", op);
  check_aligned(dk, "dk", op);
  check_aligned(dv, "dv", op);
  check_aligned(dout, "dout", op);
  check_aligned(q, "q", op);
  check_aligned(k, "k", op);
  check_aligned(v, "v", op);
  check_aligned(out, "out", op);
  dispatch_head_dim(shape.D, [&](auto d) {
    launch_backward<decltype(d)::value>(dq, dk, dv, dout, q, k, v, out, lse, shape, stream);
  });
}

}  // namespace kiln::cuda
