#include "cpu/residual.h"

namespace kiln::cpu {

namespace {

// Below this many elements a loop runs on the calling thread: starting the team costs more than
// the loop itself.
[[maybe_unused]] constexpr int64_t kMinParallelWork = int64_t{1} << 14;

}  // namespace

template <typename Real>
void residual_forward(Real* out, const Real* a, const Real* b, int64_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

template <typename Real>
void residual_backward(Real* da, Real* db, const Real* dout, int64_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
#endif
  for (int64_t i = 0; i < n; ++i) {
    if (da) da[i] += dout[i];
    if (db) db[i] += dout[i];
  }
}

template <typename Real>
void scale_forward(Real* out, const Real* inp, Real s, int64_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = s * inp[i];
}

template <typename Real>
void scale_backward(Real* dinp, const Real* dout, Real s, int64_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
#endif
  for (int64_t i = 0; i < n; ++i) dinp[i] += s * dout[i];
}

template void residual_forward<float>(float*, const float*, const float*, int64_t);
template void residual_forward<double>(double*, const double*, const double*, int64_t);
template void residual_backward<float>(float*, float*, const float*, int64_t);
template void residual_backward<double>(double*, double*, const double*, int64_t);
template void scale_forward<float>(float*, const float*, float, int64_t);
template void scale_forward<double>(double*, const double*, double, int64_t);
template void scale_backward<float>(float*, const float*, float, int64_t);
template void scale_backward<double>(double*, const double*, double, int64_t);

}  // namespace kiln::cpu
