#include "cpu/layernorm.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace kiln::cpu {

namespace {

// Below this many elements a loop runs on the calling thread: starting the team costs more than
// the loop itself.
[[maybe_unused]] constexpr int64_t kMinParallelWork = int64_t{1} << 14;

// Channels per work item of the parameter-gradient pass (see there).
constexpr int kChannelBlock = 64;

// dweight[c] += Σ_n dout[n, c]·x̂[n, c] and, if dbias is not null, dbias[c] += Σ_n dout[n, c],
// with x̂ = (x − mean[n])·rstd[n] (mean null: RMSNorm, x̂ = x·rstd[n]).
//
// These are reductions over rows, while the input gradient is a reduction within a row, so they
// get their own pass split the other way: each work item owns a block of channels and walks the
// rows in order. Threads never share an output element and the order of the additions does not
// depend on the number of threads (per-thread partial sums would). x̂ is recomputed rather than
// saved: one multiply-add per element is cheaper than an [N, C] buffer.
template <typename Real>
void norm_param_grads(Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                      const Real* mean, const Real* rstd, int N, int C) {
  const int blocks = (C + kChannelBlock - 1) / kChannelBlock;
  [[maybe_unused]] const int64_t work = int64_t{N} * C;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int b = 0; b < blocks; ++b) {
    const int c0 = b * kChannelBlock;
    const int width = std::min(C - c0, kChannelBlock);
    Real dw[kChannelBlock] = {};
    Real db[kChannelBlock] = {};
    for (int n = 0; n < N; ++n) {
      const Real* x = inp + static_cast<ptrdiff_t>(n) * C + c0;
      const Real* g = dout + static_cast<ptrdiff_t>(n) * C + c0;
      const Real m = mean ? mean[n] : Real(0);
      const Real s = rstd[n];
      for (int i = 0; i < width; ++i) {
        dw[i] += g[i] * ((x[i] - m) * s);
        db[i] += g[i];
      }
    }
    for (int i = 0; i < width; ++i) dweight[c0 + i] += dw[i];
    if (dbias)
      for (int i = 0; i < width; ++i) dbias[c0 + i] += db[i];
  }
}

}  // namespace

template <typename Real>
void layernorm_forward(Real* out, Real* mean, Real* rstd, const Real* inp, const Real* weight,
                       const Real* bias, int N, int C, Real eps) {
  [[maybe_unused]] const int64_t work = int64_t{N} * C;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    const Real* x = inp + static_cast<ptrdiff_t>(n) * C;
    Real* o = out + static_cast<ptrdiff_t>(n) * C;
    // Two passes (mean, then the variance about it) rather than E[x²] − E[x]²: the one-pass form
    // cancels catastrophically when |mean| is large next to the spread, which residual streams do
    // produce.
    Real sum = 0;
    for (int c = 0; c < C; ++c) sum += x[c];
    const Real m = sum / static_cast<Real>(C);
    Real sq = 0;
    for (int c = 0; c < C; ++c) sq += (x[c] - m) * (x[c] - m);
    const Real s = Real(1) / std::sqrt(sq / static_cast<Real>(C) + eps);
    for (int c = 0; c < C; ++c) {
      const Real y = (x[c] - m) * s * weight[c];
      o[c] = bias ? y + bias[c] : y;
    }
    if (mean) mean[n] = m;
    if (rstd) rstd[n] = s;
  }
}

template <typename Real>
void layernorm_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                        const Real* weight, const Real* mean, const Real* rstd, int N, int C) {
  [[maybe_unused]] const int64_t work = int64_t{N} * C;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    const Real* x = inp + static_cast<ptrdiff_t>(n) * C;
    const Real* g = dout + static_cast<ptrdiff_t>(n) * C;
    Real* dx = dinp + static_cast<ptrdiff_t>(n) * C;
    const Real m = mean[n];
    const Real s = rstd[n];
    // x̂ = (x − mean)·rstd depends on every x of the row through mean and rstd; differentiating
    // through both leaves the two row means below (of g and of g·x̂).
    Real sum_g = 0;
    Real sum_gx = 0;
    for (int c = 0; c < C; ++c) {
      const Real gc = g[c] * weight[c];
      sum_g += gc;
      sum_gx += gc * ((x[c] - m) * s);
    }
    const Real mean_g = sum_g / static_cast<Real>(C);
    const Real mean_gx = sum_gx / static_cast<Real>(C);
    for (int c = 0; c < C; ++c) {
      const Real xhat = (x[c] - m) * s;
      dx[c] += s * (g[c] * weight[c] - mean_g - xhat * mean_gx);
    }
  }
  norm_param_grads(dweight, dbias, dout, inp, mean, rstd, N, C);
}

template <typename Real>
void rmsnorm_forward(Real* out, Real* rstd, const Real* inp, const Real* weight, int N, int C,
                     Real eps) {
  [[maybe_unused]] const int64_t work = int64_t{N} * C;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    const Real* x = inp + static_cast<ptrdiff_t>(n) * C;
    Real* o = out + static_cast<ptrdiff_t>(n) * C;
    Real sq = 0;
    for (int c = 0; c < C; ++c) sq += x[c] * x[c];
    const Real s = Real(1) / std::sqrt(sq / static_cast<Real>(C) + eps);
    for (int c = 0; c < C; ++c) o[c] = x[c] * s * weight[c];
    if (rstd) rstd[n] = s;
  }
}

template <typename Real>
void rmsnorm_backward(Real* dinp, Real* dweight, const Real* dout, const Real* inp,
                      const Real* weight, const Real* rstd, int N, int C) {
  [[maybe_unused]] const int64_t work = int64_t{N} * C;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    const Real* x = inp + static_cast<ptrdiff_t>(n) * C;
    const Real* g = dout + static_cast<ptrdiff_t>(n) * C;
    Real* dx = dinp + static_cast<ptrdiff_t>(n) * C;
    const Real s = rstd[n];
    // As LayerNorm without the mean: only the dependence through rstd remains.
    Real sum_gx = 0;
    for (int c = 0; c < C; ++c) sum_gx += g[c] * weight[c] * (x[c] * s);
    const Real mean_gx = sum_gx / static_cast<Real>(C);
    for (int c = 0; c < C; ++c) dx[c] += s * (g[c] * weight[c] - (x[c] * s) * mean_gx);
  }
  norm_param_grads<Real>(dweight, nullptr, dout, inp, nullptr, rstd, N, C);
}

template void layernorm_forward<float>(float*, float*, float*, const float*, const float*,
                                       const float*, int, int, float);
template void layernorm_forward<double>(double*, double*, double*, const double*, const double*,
                                        const double*, int, int, double);
template void layernorm_backward<float>(float*, float*, float*, const float*, const float*,
                                        const float*, const float*, const float*, int, int);
template void layernorm_backward<double>(double*, double*, double*, const double*, const double*,
                                         const double*, const double*, const double*, int, int);
template void rmsnorm_forward<float>(float*, float*, const float*, const float*, int, int, float);
template void rmsnorm_forward<double>(double*, double*, const double*, const double*, int, int,
                                      double);
template void rmsnorm_backward<float>(float*, float*, const float*, const float*, const float*,
                                      const float*, int, int);
template void rmsnorm_backward<double>(double*, double*, const double*, const double*,
                                       const double*, const double*, int, int);

}  // namespace kiln::cpu
