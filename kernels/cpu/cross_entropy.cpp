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

template double softmax_cross_entropy<float>(float*, float*, const float*, const int32_t*,
                                             const float*, int, int, float, float);
template double softmax_cross_entropy<double>(double*, double*, const double*, const int32_t*,
                                              const double*, int, int, double, double);

}  // namespace kiln::cpu
