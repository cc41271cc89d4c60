#include "cpu/mlp_activation.h"

#include <cmath>

namespace kiln::cpu {

namespace {

// Below this many elements a loop runs on the calling thread: starting the team costs more than
// the loop itself.
[[maybe_unused]] constexpr int64_t kMinParallelWork = int64_t{1} << 14;

// σ(g) without overflow: e^−g overflows for large negative g (in float from g ≈ −89), so that
// side is computed as e^g / (1 + e^g). Both branches are exact formulas, not approximations.
template <typename Real>
Real sigmoid(Real g) {
  if (g >= 0) return Real(1) / (Real(1) + std::exp(-g));
  const Real e = std::exp(g);
  return e / (Real(1) + e);
}

template <typename Real>
constexpr Real kInvSqrt2 = Real(0.70710678118654752440084436210484903928);
template <typename Real>
constexpr Real kInvSqrt2Pi = Real(0.39894228040143267793994605993438186848);

// Φ(x), the standard normal CDF.
template <typename Real>
Real normal_cdf(Real x) {
  return Real(0.5) * (Real(1) + std::erf(x * kInvSqrt2<Real>));
}

}  // namespace

template <typename Real>
void swiglu_forward(Real* out, const Real* gate, const Real* up, int64_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
#endif
  for (int64_t i = 0; i < n; ++i) {
    const Real g = gate[i];
    out[i] = g * sigmoid(g) * up[i];
  }
}

template <typename Real>
void swiglu_backward(Real* dgate, Real* dup, const Real* dout, const Real* gate, const Real* up,
                     int64_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
#endif
  for (int64_t i = 0; i < n; ++i) {
    const Real g = gate[i];
    const Real s = sigmoid(g);
    const Real silu = g * s;
    // d/dg [g·σ(g)] = σ + g·σ·(1 − σ), written to reuse σ.
    const Real dsilu = s * (Real(1) + g * (Real(1) - s));
    dgate[i] += dout[i] * up[i] * dsilu;
    dup[i] += dout[i] * silu;
  }
}

template <typename Real>
void gelu_forward(Real* out, const Real* inp, int64_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
#endif
  for (int64_t i = 0; i < n; ++i) {
    const Real x = inp[i];
    out[i] = x * normal_cdf(x);
  }
}

template <typename Real>
void gelu_backward(Real* dinp, const Real* dout, const Real* inp, int64_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
#endif
  for (int64_t i = 0; i < n; ++i) {
    const Real x = inp[i];
    const Real pdf = kInvSqrt2Pi<Real> * std::exp(Real(-0.5) * x * x);
    dinp[i] += dout[i] * (normal_cdf(x) + x * pdf);
  }
}

template void swiglu_forward<float>(float*, const float*, const float*, int64_t);
template void swiglu_forward<double>(double*, const double*, const double*, int64_t);
template void swiglu_backward<float>(float*, float*, const float*, const float*, const float*,
                                     int64_t);
template void swiglu_backward<double>(double*, double*, const double*, const double*,
                                      const double*, int64_t);
template void gelu_forward<float>(float*, const float*, int64_t);
template void gelu_forward<double>(double*, const double*, int64_t);
template void gelu_backward<float>(float*, const float*, const float*, int64_t);
template void gelu_backward<double>(double*, const double*, const double*, int64_t);

}  // namespace kiln::cpu
