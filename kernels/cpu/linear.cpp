#include "cpu/linear.h"

#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace kiln::cpu {

namespace {

// Below this many elements a loop runs on the calling thread: starting the team costs more than
// the loop itself.
[[maybe_unused]] constexpr int64_t kMinParallelWork = int64_t{1} << 14;

// Output channels per work item of the bias-gradient pass.
constexpr int kChannelBlock = 64;

// C = alpha·op(A)·op(B) + beta·C, row-major, M×K times K×Nc. One name for both precisions so the
// kernels below are written once.
template <typename Real>
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int Nc, int K, const Real* A, int lda,
          const Real* B, int ldb, Real beta, Real* C, int ldc) {
  if constexpr (std::is_same_v<Real, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, M, Nc, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, M, Nc, K, 1.0, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

template <typename Real>
void linear_forward(Real* out, const Real* inp, const Real* weight, const Real* bias, int N,
                    int IC, int OC) {
  if (N == 0 || OC == 0) return;
  // The bias goes in first and the GEMM adds onto it (beta = 1): one pass over out instead of a
  // GEMM pass and then a bias pass.
  [[maybe_unused]] const int64_t work = int64_t{N} * OC;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    Real* o = out + static_cast<ptrdiff_t>(n) * OC;
    for (int j = 0; j < OC; ++j) o[j] = bias ? bias[j] : Real(0);
  }
  // IC == 0 leaves out = bias; BLAS would reject the zero leading dimensions.
  if (IC == 0) return;
  // out[N, OC] (+)= inp[N, IC] · weight[OC, IC]ᵀ: weight is read transposed in place.
  gemm<Real>(CblasNoTrans, CblasTrans, N, OC, IC, inp, IC, weight, IC, Real(1), out, OC);
}

template <typename Real>
void linear_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                     const Real* weight, int N, int IC, int OC) {
  if (N == 0 || OC == 0) return;
  if (IC > 0) {
    // dinp[N, IC] += dout[N, OC] · weight[OC, IC]
    if (dinp)
      gemm<Real>(CblasNoTrans, CblasNoTrans, N, IC, OC, dout, OC, weight, IC, Real(1), dinp, IC);
    // dweight[OC, IC] += dout[N, OC]ᵀ · inp[N, IC]: a sum over tokens, which BLAS does as a
    // K = N reduction in its own fixed order.
    if (dweight)
      gemm<Real>(CblasTrans, CblasNoTrans, OC, IC, N, dout, OC, inp, IC, Real(1), dweight, IC);
  }
  if (!dbias) return;
  // A column sum of dout. Each work item owns a block of output channels and walks the rows in
  // order, so no output element is shared between threads and the summation order does not
  // depend on their number.
  const int blocks = (OC + kChannelBlock - 1) / kChannelBlock;
  [[maybe_unused]] const int64_t work = int64_t{N} * OC;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int b = 0; b < blocks; ++b) {
    const int j0 = b * kChannelBlock;
    const int width = std::min(OC - j0, kChannelBlock);
    Real acc[kChannelBlock] = {};
    for (int n = 0; n < N; ++n) {
      const Real* g = dout + static_cast<ptrdiff_t>(n) * OC + j0;
      for (int i = 0; i < width; ++i) acc[i] += g[i];
    }
    for (int i = 0; i < width; ++i) dbias[j0 + i] += acc[i];
  }
}

template <typename Real>
void bias_add_forward(Real* out, const Real* bias, int N, int OC) {
  [[maybe_unused]] const int64_t work = int64_t{N} * OC;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (work >= kMinParallelWork)
#endif
  for (int n = 0; n < N; ++n) {
    Real* o = out + static_cast<ptrdiff_t>(n) * OC;
    for (int j = 0; j < OC; ++j) o[j] += bias[j];
  }
}

template void bias_add_forward<float>(float*, const float*, int, int);
template void bias_add_forward<double>(double*, const double*, int, int);
template void linear_forward<float>(float*, const float*, const float*, const float*, int, int,
                                    int);
template void linear_forward<double>(double*, const double*, const double*, const double*, int,
                                     int, int);
template void linear_backward<float>(float*, float*, float*, const float*, const float*,
                                     const float*, int, int, int);
template void linear_backward<double>(double*, double*, double*, const double*, const double*,
                                      const double*, int, int, int);

}  // namespace kiln::cpu
