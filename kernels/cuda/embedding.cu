#include "cuda/embedding.h"

#include <cub/device/device_radix_sort.cuh>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

// Elements per 16-byte access of bf16.
constexpr int kPack = 8;
constexpr int kForwardThreads = 128;
// Backward: one warp per (id, chunk of channels), each lane owning 8 channels. Small blocks keep
// a frequent id (many tokens to sum) spread over C / 256 blocks instead of serialising it in one.
constexpr int kBackwardThreads = 32;
constexpr int kChunk = kBackwardThreads * kPack;
constexpr int kKeyThreads = 256;

size_t align256(size_t bytes) { return (bytes + 255) / 256 * 256; }


// One block per token. kVector: C is a multiple of 8 and out, wte are 16-byte aligned.
template <bool kVector>
__global__ void embedding_forward_kernel(bf16_t* out, const int32_t* ids, const bf16_t* wte, int vocab_begin,
                                         int V_local, int C, float scale) {
  const int64_t n = blockIdx.x;
  const int64_t local = int64_t{ids[n]} - vocab_begin;
  const bool inside = local >= 0 && local < V_local;
  const bf16_t* row = wte + (inside ? local : 0) * C;
  bf16_t* o = out + n * C;
  const int t = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  if constexpr (kVector) {
    for (int c = t * kPack; c < C; c += threads * kPack) {
      float v[kPack] = {};
      if (inside) {
        load8(row + c, v);
#pragma unroll
        for (int k = 0; k < kPack; ++k) v[k] *= scale;
      }
      store8(o + c, v);
    }
  } else {
    for (int c = t; c < C; c += threads) o[c] = to_bf16(inside ? ld(row[c]) * scale : 0.0f);
  }
}

// The sort's input: key = the id's table row, or V_local (sorts after every real row) outside the
// range; value = the token's index n. A stable sort then lists each row's tokens in increasing n.
__global__ void embedding_keys_kernel(uint32_t* keys, int32_t* rows, const int32_t* ids, int N, int vocab_begin,
                                      int V_local) {
  const int64_t n = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (n >= N) return;
  const int64_t local = int64_t{ids[n]} - vocab_begin;
  keys[n] = static_cast<uint32_t>(local >= 0 && local < V_local ? local : V_local);
  rows[n] = static_cast<int32_t>(n);
}

// grid (N, ⌈C / 256⌉): block (i, y) works only if sorted position i starts a run of equal in-range
// keys; it then sums the run's dout rows over channels [256·y, 256·y + 256), in run order (token
// order), and adds the sum to the table row once. kVector: C is a multiple of 8 and dwte, dout are
// 16-byte aligned, so each lane's 8 channels are one 16-byte access, wholly inside the row or not.
//
// A frequent token's run can be a thousand rows long, and each row costs a chain of three
// dependent loads (key, row index, dout). The walk therefore takes kUnroll rows at a time: their
// loads are independent and overlap, and the sums are still added one row after the other.
// Because the keys are sorted, the run's rows are exactly the consecutive positions whose key
// equals the first one.
constexpr int kUnroll = 4;

template <bool kVector>
__global__ void embedding_backward_kernel(bf16_t* dwte, const bf16_t* dout, const uint32_t* keys,
                                          const int32_t* rows, int N, int V_local, int C, float scale) {
  const int i = static_cast<int>(blockIdx.x);
  const uint32_t key = keys[i];
  if (key >= static_cast<uint32_t>(V_local) || (i > 0 && keys[i - 1] == key)) return;
  const int base = static_cast<int>(blockIdx.y) * kChunk;
  const int lane = static_cast<int>(threadIdx.x);
  float acc[kPack] = {};
  for (int j = i;; j += kUnroll) {
    bool in_run[kUnroll];
    const bf16_t* g[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      in_run[u] = j + u < N && keys[j + u] == key;
      g[u] = in_run[u] ? dout + int64_t{rows[j + u]} * C + base : nullptr;
    }
    float v[kUnroll][kPack];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int k = 0; k < kPack; ++k) v[u][k] = 0.0f;
      if (!in_run[u]) continue;
      if constexpr (kVector) {
        if (base + lane * kPack < C) load8(g[u] + lane * kPack, v[u]);
      } else {
#pragma unroll
        for (int k = 0; k < kPack; ++k) {
          const int c = k * kBackwardThreads + lane;
          if (base + c < C) v[u][k] = ld(g[u][c]);
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (!in_run[u]) break;
#pragma unroll
      for (int k = 0; k < kPack; ++k) acc[k] += v[u][k] * scale;
    }
    if (!in_run[kUnroll - 1]) break;
  }
  bf16_t* d = dwte + int64_t{key} * C + base;
  if constexpr (kVector) {
    if (base + lane * kPack < C) {
      float w[kPack];
      load8(d + lane * kPack, w);
#pragma unroll
      for (int k = 0; k < kPack; ++k) w[k] += acc[k];
      store8(d + lane * kPack, w);
    }
  } else {
#pragma unroll
    for (int k = 0; k < kPack; ++k) {
      const int c = k * kBackwardThreads + lane;
      if (base + c < C) d[c] = to_bf16(ld(d[c]) + acc[k]);
    }
  }
}

// Key bits the sort must look at: keys lie in [0, V_local], so the bit length of V_local (17 for
// a 100,352-entry vocabulary, instead of 32: fewer radix passes).
int key_bits(int V_local) {
  int bits = 0;
  while ((int64_t{1} << bits) <= V_local) ++bits;
  return bits;
}

// Where each piece lives in the scratch: keys and rows, before and after the sort, then CUB's
// temporary storage; every piece 256-byte aligned.
struct ScratchLayout {
  size_t array_bytes = 0;  // one array of N keys or rows, padded
  size_t temp_bytes = 0;   // CUB's
  size_t total() const { return 4 * array_bytes + temp_bytes; }
};

ScratchLayout scratch_layout(int N, int V_local) {
  ScratchLayout l;
  l.array_bytes = align256(sizeof(uint32_t) * static_cast<size_t>(N));
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, l.temp_bytes, static_cast<const uint32_t*>(nullptr),
                                                  static_cast<uint32_t*>(nullptr),
                                                  static_cast<const int32_t*>(nullptr),
                                                  static_cast<int32_t*>(nullptr), N, 0, key_bits(V_local)));
  return l;
}

}  // namespace

void embedding_forward(bf16_t* out, const int32_t* ids, const bf16_t* wte, int N, int vocab_begin, int V_local,
                       int C, float scale, cudaStream_t stream) {
  if (N <= 0 || C <= 0) return;
  if (C % kPack == 0 && aligned16(out) && aligned16(wte)) {
    embedding_forward_kernel<true><<<N, kForwardThreads, 0, stream>>>(out, ids, wte, vocab_begin, V_local, C, scale);
  } else {
    embedding_forward_kernel<false><<<N, kForwardThreads, 0, stream>>>(out, ids, wte, vocab_begin, V_local, C, scale);
  }
  KILN_CUDA_CHECK_LAUNCH();
}

size_t embedding_backward_scratch_bytes(int N, int V_local) {
  if (N <= 0 || V_local <= 0) return 0;
  return scratch_layout(N, V_local).total();
}

void embedding_backward(bf16_t* dwte, const bf16_t* dout, const int32_t* ids, int N, int vocab_begin, int V_local,
                        int C, float scale, void* scratch, size_t scratch_bytes, cudaStream_t stream) {
  if (N <= 0 || C <= 0 || V_local <= 0) return;
  const unsigned int chunks = ceil_div(C, kChunk);
  if (chunks > 65535)
    throw std::invalid_argument("embedding_backward: C = " + std::to_string(C) + " is wider than " +
                                std::to_string(65535 * kChunk) + " channels");
  const ScratchLayout l = scratch_layout(N, V_local);
  if (scratch_bytes < l.total())
    throw std::runtime_error("embedding_backward: needs " + std::to_string(l.total()) + " bytes of scratch, got " +
                             std::to_string(scratch_bytes));
  char* base = static_cast<char*>(scratch);
  uint32_t* keys_in = reinterpret_cast<uint32_t*>(base);
  uint32_t* keys_out = reinterpret_cast<uint32_t*>(base + l.array_bytes);
  int32_t* rows_in = reinterpret_cast<int32_t*>(base + 2 * l.array_bytes);
  int32_t* rows_out = reinterpret_cast<int32_t*>(base + 3 * l.array_bytes);
  void* temp = base + 4 * l.array_bytes;

  embedding_keys_kernel<<<ceil_div(N, kKeyThreads), kKeyThreads, 0, stream>>>(keys_in, rows_in, ids, N, vocab_begin,
                                                                               V_local);
  KILN_CUDA_CHECK_LAUNCH();
  size_t temp_bytes = l.temp_bytes;
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys_in, keys_out, rows_in, rows_out, N, 0,
                                                  key_bits(V_local), stream));
  const dim3 grid(static_cast<unsigned int>(N), chunks);
  if (C % kPack == 0 && aligned16(dwte) && aligned16(dout)) {
    embedding_backward_kernel<true><<<grid, kBackwardThreads, 0, stream>>>(dwte, dout, keys_out, rows_out, N, V_local,
                                                                           C, scale);
  } else {
    embedding_backward_kernel<false><<<grid, kBackwardThreads, 0, stream>>>(dwte, dout, keys_out, rows_out, N,
                                                                            V_local, C, scale);
  }
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
