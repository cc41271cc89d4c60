// Σ g² over a bf16 gradient buffer on the GPU, for global-norm clipping (cpu/global_norm.h).
//
// Two passes, deterministic by construction: pass 1 runs a grid whose size depends only on the
// problem (never on timing), each thread summing a fixed set of elements in a fixed order, each
// block reducing its threads in a fixed tree into one double partial; pass 2, one block, adds the
// partials in a fixed order into a device double. No atomics, so the same inputs give the same
// bits on every run. The caller copies the double to the host (or all-reduces it first).
//
// Accumulation is in double, like the CPU reference: a bf16 value widened to double squares
// exactly (an 8-bit significand squared fits easily), so only the additions round, and the result
// agrees with cpu::sum_of_squares to ~1e-16·(number of terms) relative; the order differs, so the
// last bits may too. fp32 per-thread sums would lose digits over the thousands of terms a thread
// adds, and an fp32 square overflows for |g| > 1.8e19, which bf16 can hold: such a (finite)
// gradient must clip, not turn into an Inf norm that skips the step. The FP64 adds are free: the
// kernel moves 2 bytes per add, and even an A100 adds doubles ~5× faster than HBM delivers bf16.
//
// Ranges: which elements count is the caller's business (a replicated tensor counts on one TP rank
// only, see train/zero_optimizer.h), so besides a plain [0, n) there is a variant over a list of
// element ranges, prepared once at start-up as a chunk table (squares_chunks) in device memory.
//
// Plain C++17, host only (the kernels are in global_norm.cu).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kiln::cuda {

using bf16_t = __nv_bfloat16;

// Pass 1 uses at most this many blocks; `partials` must hold this many doubles.
inline constexpr int kSumOfSquaresPartials = 1024;
// Elements per chunk of a range list.
inline constexpr int64_t kSquaresChunkElements = 16384;

// `length` elements of the buffer from index `begin`.
struct SquaresChunk {
  int64_t begin;
  int64_t length;
};

// Cuts [begin, end) element ranges (in the indexing of the buffer the sum will read; empty ranges
// are dropped) into the chunk table. Ranges must not overlap, or their common elements count
// twice. Throws std::invalid_argument for a range with begin < 0 or end < begin.
inline std::vector<SquaresChunk> squares_chunks(const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  std::vector<SquaresChunk> chunks;
  for (const auto& [begin, end] : ranges) {
    if (begin < 0 || end < begin) {
      throw std::invalid_argument("squares_chunks: bad range [" + std::to_string(begin) + ", " +
                                  std::to_string(end) + ")");
    }
    for (int64_t b = begin; b < end; b += kSquaresChunkElements) {
      chunks.push_back({b, end - b < kSquaresChunkElements ? end - b : kSquaresChunkElements});
    }
  }
  return chunks;
}

// out[0] = Σ x[i]² over i in [0, n), as a double (0 for n <= 0). `partials`: device scratch of
// kSumOfSquaresPartials doubles. `out` and `partials` are device memory; asynchronous on `stream`.
void sum_of_squares(double* out, const bf16_t* x, int64_t n, double* partials, cudaStream_t stream);

// out[0] = Σ x[i]² over the elements of the n_chunks chunks (device table from squares_chunks),
// 0 when there are none. Otherwise as sum_of_squares.
void sum_of_squares_chunks(double* out, const bf16_t* x, const SquaresChunk* chunks, int64_t n_chunks,
                           double* partials, cudaStream_t stream);

}  // namespace kiln::cuda
