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

template <typename Real>
void embedding_forward(Real* out, const int32_t* ids, const Real* wte, int N,
                       [[maybe_unused]] int V, int C, Real scale) {
  [[maybe_unused]] const int64_t work = int64_t{N} * C;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    const int32_t id = ids[n];
    assert(id >= 0 && id < V && "embedding: token id outside [0, V)");
    const Real* row = wte + static_cast<ptrdiff_t>(id) * C;
    Real* o = out + static_cast<ptrdiff_t>(n) * C;
    for (int c = 0; c < C; ++c) o[c] = row[c] * scale;
  }
}

template <typename Real>
void embedding_backward(Real* dwte, const Real* dout, const int32_t* ids, int N,
                        [[maybe_unused]] int V, int C, Real scale) {
  // The natural split, over tokens, races: two tokens with the same id update the same row of
  // dwte. Atomics would fix the race but not the order of the additions, so results would vary
  // from run to run. Split over channels instead: each work item owns a block of columns of dwte
  // and walks all tokens in order. No two threads touch the same element, and every element sums
  // its contributions in token order, however many threads there are.
  const int blocks = (C + kChannelBlock - 1) / kChannelBlock;
  [[maybe_unused]] const int64_t work = int64_t{N} * C;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int b = 0; b < blocks; ++b) {
    const int c0 = b * kChannelBlock;
    const int c1 = std::min(C, c0 + kChannelBlock);
    for (int n = 0; n < N; ++n) {
      const int32_t id = ids[n];
      assert(id >= 0 && id < V && "embedding: token id outside [0, V)");
      Real* drow = dwte + static_cast<ptrdiff_t>(id) * C;
      const Real* g = dout + static_cast<ptrdiff_t>(n) * C;
      for (int c = c0; c < c1; ++c) drow[c] += g[c] * scale;
    }
  }
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
