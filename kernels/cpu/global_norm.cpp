#include "cpu/global_norm.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace kiln::cpu {
namespace {

// Chunks are summed in passes of this many, their sums kept in a stack array: the fixed order
// needs every chunk sum before adding them up, and a pass-sized array keeps the kernel free of
// heap allocation (DESIGN.md: never allocate inside the step loop). Adding the passes' chunk sums
// one after another into the same running total is the same order as one long array would give.
constexpr int64_t kChunksPerPass = 256;

}  // namespace

double sum_of_squares(const float* x, int64_t n) {
  assert(n >= 0);
  const int64_t n_chunks = (n + kSumOfSquaresChunk - 1) / kSumOfSquaresChunk;
  double chunk_sum[kChunksPerPass];
  double total = 0.0;
  for (int64_t first = 0; first < n_chunks; first += kChunksPerPass) {
    const int64_t count = std::min(kChunksPerPass, n_chunks - first);
    // Threads split the chunks of a pass; which thread sums a chunk doesn't change its sum.
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (count > 1)
#endif
    for (int64_t c = 0; c < count; ++c) {
      const int64_t lo = (first + c) * kSumOfSquaresChunk;
      const int64_t hi = std::min(n, lo + kSumOfSquaresChunk);
      double s = 0.0;
      // Sequential on purpose: without -ffast-math the compiler may not reassociate this, so the
      // order is the one written. (Contracting into an FMA changes nothing: the product is exact.)
      for (int64_t i = lo; i < hi; ++i) {
        const double xi = x[i];
        s += xi * xi;
      }
      chunk_sum[c] = s;
    }
    for (int64_t c = 0; c < count; ++c) total += chunk_sum[c];
  }
  return total;
}

double clip_coefficient(double total_norm, double max_norm) {
  if (!(max_norm > 0.0)) return 1.0;  // clipping disabled
  const double coefficient = max_norm / (total_norm + 1e-6);
  // Written so that NaN falls through to the return of NaN rather than to 1 (a NaN compares false).
  if (coefficient >= 1.0) return 1.0;
  return coefficient;
}

}  // namespace kiln::cpu
