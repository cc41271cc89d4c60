#include "cpu/cross_entropy.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>

namespace kiln::cpu {

namespace {

// Below this many elements a loop runs on the calling thread: starting the team costs more than
// the loop itself.
[[maybe_unused]] constexpr int64_t kMinParallelWork = int64_t{1} << 14;

}  // namespace

template <typename Real>
double softmax_cross_entropy(Real* dlogits, Real* losses, const Real* logits,
                             const int32_t* targets, const Real* mask, int N, int V,
                             Real logit_scale, Real dloss_scale) {
  // Rows are independent, so they split across threads with nothing shared.
  [[maybe_unused]] const int64_t work = int64_t{N} * V;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    const Real* row = logits + static_cast<ptrdiff_t>(n) * V;
    Real* drow = dlogits ? dlogits + static_cast<ptrdiff_t>(n) * V : nullptr;
    const Real w = mask ? mask[n] : Real(1);
    if (w == Real(0)) {
      losses[n] = 0;
      if (drow) std::fill(drow, drow + V, Real(0));
      continue;
    }
    const int32_t t = targets[n];
    assert(t >= 0 && t < V && "cross-entropy: unmasked target outside [0, V)");

    // Pass 1: the row maximum of z, so every exponent below is ≤ 0.
    Real zmax = logit_scale * row[0];
    for (int v = 1; v < V; ++v) zmax = std::max(zmax, logit_scale * row[v]);
    // Read the target's logit now: in place, pass 2 overwrites the row.
    const Real zt = logit_scale * row[t];

    // Pass 2: Σ e^(z − zmax). With a gradient to write, each exponential is parked in drow so
    // that pass 3 need not recompute it (in place this overwrites logits[n, v], which no later
    // step reads).
    Real sum = 0;
    for (int v = 0; v < V; ++v) {
      const Real e = std::exp(logit_scale * row[v] - zmax);
      sum += e;
      if (drow) drow[v] = e;
    }
    losses[n] = w * (zmax + std::log(sum) - zt);

    // Pass 3: (softmax − onehot), times everything the chain rule and the caller put in front.
    if (drow) {
      const Real inv_sum = Real(1) / sum;
      const Real g = w * dloss_scale * logit_scale;
      for (int v = 0; v < V; ++v) drow[v] = g * (drow[v] * inv_sum);
      drow[t] -= g;
    }
  }

  double total = 0;
  for (int n = 0; n < N; ++n) total += static_cast<double>(losses[n]);
  return total;
}

template <typename Real>
void vocab_parallel_ce_max(Real* row_max, const Real* logits, const Real* mask, int N, int V_local,
                           Real logit_scale) {
  [[maybe_unused]] const int64_t work = int64_t{N} * V_local;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    const Real* row = logits + static_cast<ptrdiff_t>(n) * V_local;
    if ((mask && mask[n] == Real(0)) || V_local == 0) {
      row_max[n] = 0;
      continue;
    }
    Real zmax = logit_scale * row[0];
    for (int v = 1; v < V_local; ++v) zmax = std::max(zmax, logit_scale * row[v]);
    row_max[n] = zmax;
  }
}

template <typename Real>
void vocab_parallel_ce_sums(Real* sums, const Real* logits, const int32_t* targets, const Real* mask,
                            const Real* row_max, int N, int V_local, int vocab_begin, Real logit_scale) {
  [[maybe_unused]] const int64_t work = int64_t{N} * V_local;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    const Real* row = logits + static_cast<ptrdiff_t>(n) * V_local;
    if (mask && mask[n] == Real(0)) {
      sums[n] = 0;
      sums[N + n] = 0;
      continue;
    }
    const Real zmax = row_max[n];
    Real sum = 0;
    for (int v = 0; v < V_local; ++v) sum += std::exp(logit_scale * row[v] - zmax);
    sums[n] = sum;
    const int64_t t = int64_t{targets[n]} - vocab_begin;
    sums[N + n] = (t >= 0 && t < V_local) ? logit_scale * row[t] : Real(0);
  }
}

template <typename Real>
double vocab_parallel_ce_finish(Real* dlogits, Real* losses, const Real* logits, const int32_t* targets,
                                const Real* mask, const Real* row_max, const Real* sums, int N, int V_local,
                                int vocab_begin, Real logit_scale, Real dloss_scale) {
  [[maybe_unused]] const int64_t work = int64_t{N} * V_local;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    const Real* row = logits + static_cast<ptrdiff_t>(n) * V_local;
    Real* drow = dlogits ? dlogits + static_cast<ptrdiff_t>(n) * V_local : nullptr;
    const Real w = mask ? mask[n] : Real(1);
    if (w == Real(0)) {
      losses[n] = 0;
      if (drow) std::fill(drow, drow + V_local, Real(0));
      continue;
    }
    const Real zmax = row_max[n];
    const Real sum = sums[n];
    losses[n] = w * (zmax + std::log(sum) - sums[N + n]);
    if (drow) {
      const Real inv_sum = Real(1) / sum;
      const Real g = w * dloss_scale * logit_scale;
      for (int v = 0; v < V_local; ++v) drow[v] = g * (std::exp(logit_scale * row[v] - zmax) * inv_sum);
      const int64_t t = int64_t{targets[n]} - vocab_begin;
      if (t >= 0 && t < V_local) drow[t] -= g;
    }
  }
  double total = 0;
  for (int n = 0; n < N; ++n) total += static_cast<double>(losses[n]);
  return total;
}

#define KILN_INSTANTIATE_VOCAB_PARALLEL_CE(Real)                                                                    \
  template void vocab_parallel_ce_max<Real>(Real*, const Real*, const Real*, int, int, Real);                      \
  template void vocab_parallel_ce_sums<Real>(Real*, const Real*, const int32_t*, const Real*, const Real*, int,   \
                                             int, int, Real);                                                      \
  template double vocab_parallel_ce_finish<Real>(Real*, Real*, const Real*, const int32_t*, const Real*,          \
                                                 const Real*, const Real*, int, int, int, Real, Real);
KILN_INSTANTIATE_VOCAB_PARALLEL_CE(float)
KILN_INSTANTIATE_VOCAB_PARALLEL_CE(double)
#undef KILN_INSTANTIATE_VOCAB_PARALLEL_CE

template double softmax_cross_entropy<float>(float*, float*, const float*, const int32_t*,
                                             const float*, int, int, float, float);
template double softmax_cross_entropy<double>(double*, double*, const double*, const int32_t*,
                                              const double*, int, int, double, double);

}  // namespace kiln::cpu
