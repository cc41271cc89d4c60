#include "cpu/embedding.h"

#include <algorithm>
#include <cassert>
#include <cstddef>

namespace kiln::cpu {

namespace {

// Below this many elements a loop runs on the calling thread: starting the team costs more than
// the loop itself.
[[maybe_unused]] constexpr int64_t kMinParallelWork = int64_t{1} << 14;

// Channels per work item of the backward pass (see there).
constexpr int kChannelBlock = 64;

}  // namespace

// The whole table is the range [0, V): the plain forms are the vocab-range forms with
// vocab_begin = 0 and V_local = V (embedding.h). An id outside [0, V) is a caller bug, caught by
// the assertion in debug builds (the range form would give it a zero row).
static void check_ids([[maybe_unused]] const int32_t* ids, [[maybe_unused]] int N, [[maybe_unused]] int V) {
#ifndef NDEBUG
  for (int n = 0; n < N; ++n) assert(ids[n] >= 0 && ids[n] < V && "embedding: token id outside [0, V)");
#endif
}

template <typename Real>
void embedding_forward_vocab_range(Real* out, const int32_t* ids, const Real* wte_shard, int N, int vocab_begin,
                                   int V_local, int C, Real scale) {
  [[maybe_unused]] const int64_t work = int64_t{N} * C;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    const int64_t local = int64_t{ids[n]} - vocab_begin;
    Real* o = out + static_cast<ptrdiff_t>(n) * C;
    if (local < 0 || local >= V_local) {
      std::fill(o, o + C, Real(0));
      continue;
    }
    const Real* row = wte_shard + static_cast<ptrdiff_t>(local) * C;
    for (int c = 0; c < C; ++c) o[c] = row[c] * scale;
  }
}

template <typename Real>
void embedding_backward_vocab_range(Real* dwte_shard, const Real* dout, const int32_t* ids, int N, int vocab_begin,
                                    int V_local, int C, Real scale) {
  // Split over channels, as embedding_backward, for a fixed summation order.
  const int blocks = (C + kChannelBlock - 1) / kChannelBlock;
  [[maybe_unused]] const int64_t work = int64_t{N} * C;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int b = 0; b < blocks; ++b) {
    const int c0 = b * kChannelBlock;
    const int c1 = std::min(C, c0 + kChannelBlock);
    for (int n = 0; n < N; ++n) {
      const int64_t local = int64_t{ids[n]} - vocab_begin;
      if (local < 0 || local >= V_local) continue;
      Real* drow = dwte_shard + static_cast<ptrdiff_t>(local) * C;
      const Real* g = dout + static_cast<ptrdiff_t>(n) * C;
      for (int c = c0; c < c1; ++c) drow[c] += g[c] * scale;
    }
  }
}

template <typename Real>
void embedding_forward(Real* out, const int32_t* ids, const Real* wte, int N, int V, int C, Real scale) {
  check_ids(ids, N, V);
  embedding_forward_vocab_range(out, ids, wte, N, 0, V, C, scale);
}

template <typename Real>
void embedding_backward(Real* dwte, const Real* dout, const int32_t* ids, int N, int V, int C, Real scale) {
  check_ids(ids, N, V);
  embedding_backward_vocab_range(dwte, dout, ids, N, 0, V, C, scale);
}

template void embedding_forward_vocab_range<float>(float*, const int32_t*, const float*, int, int, int, int, float);
template void embedding_forward_vocab_range<double>(double*, const int32_t*, const double*, int, int, int, int,
                                                    double);
template void embedding_backward_vocab_range<float>(float*, const float*, const int32_t*, int, int, int, int, float);
template void embedding_backward_vocab_range<double>(double*, const double*, const int32_t*, int, int, int, int,
                                                     double);
template void embedding_forward<float>(float*, const int32_t*, const float*, int, int, int, float);
template void embedding_forward<double>(double*, const int32_t*, const double*, int, int, int,
                                        double);
template void embedding_backward<float>(float*, const float*, const int32_t*, int, int, int,
                                        float);
template void embedding_backward<double>(double*, const double*, const int32_t*, int, int, int,
                                         double);

}  // namespace kiln::cpu
