#include "cpu/rotary.h"

#include <cassert>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace kiln::cpu {

template <typename Real>
RotaryTable<Real>::RotaryTable(int rotary_dims_, int max_positions_, double theta_)
    : rotary_dims(rotary_dims_), max_positions(max_positions_), theta(theta_) {
  if (rotary_dims <= 0 || rotary_dims % 2 != 0)
    throw std::invalid_argument("rotary_dims must be positive and even, got " +
                                std::to_string(rotary_dims));
  if (max_positions <= 0)
    throw std::invalid_argument("rotary max_positions must be positive, got " +
                                std::to_string(max_positions));
  if (!(theta > 0)) throw std::invalid_argument("rotary theta must be positive");

  const int half = rotary_dims / 2;
  cos.resize(static_cast<size_t>(max_positions) * half);
  sin.resize(static_cast<size_t>(max_positions) * half);
  for (int i = 0; i < half; ++i) {
    const double freq = std::pow(theta, -2.0 * i / rotary_dims);
    for (int p = 0; p < max_positions; ++p) {
      const double angle = p * freq;
      cos[static_cast<size_t>(p) * half + i] = static_cast<Real>(std::cos(angle));
      sin[static_cast<size_t>(p) * half + i] = static_cast<Real>(std::sin(angle));
    }
  }
}

namespace {

// One token's H heads. Forward rotates by +angle and overwrites; backward rotates by −angle
// (the transpose) and accumulates. x and y may be the same memory in the forward case only: each
// pair is read completely before either element is written.
template <bool kBackward, typename Real>
void rotate_token(Real* y, const Real* x, const Real* cos_row, const Real* sin_row, int half,
                  int H, int D) {
  const int R = 2 * half;
  for (int h = 0; h < H; ++h) {
    const Real* xh = x + static_cast<size_t>(h) * D;
    Real* yh = y + static_cast<size_t>(h) * D;
    for (int i = 0; i < half; ++i) {
      const Real c = cos_row[i];
      const Real s = kBackward ? -sin_row[i] : sin_row[i];
      const Real x1 = xh[i];
      const Real x2 = xh[i + half];
      const Real y1 = x1 * c - x2 * s;
      const Real y2 = x2 * c + x1 * s;
      if (kBackward) {
        yh[i] += y1;
        yh[i + half] += y2;
      } else {
        yh[i] = y1;
        yh[i + half] = y2;
      }
    }
    for (int d = R; d < D; ++d) {
      if (kBackward)
        yh[d] += xh[d];
      else
        yh[d] = xh[d];
    }
  }
}

template <bool kBackward, typename Real>
void rotate_all(Real* y, const Real* x, const int32_t* pos, const RotaryTable<Real>& table, int N,
                int H, int D) {
  assert(table.rotary_dims <= D);
  const int half = table.rotary_dims / 2;
  const size_t token_stride = static_cast<size_t>(H) * D;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (int n = 0; n < N; ++n) {
    const int32_t p = pos[n];
    assert(p >= 0 && p < table.max_positions);
    const size_t row = static_cast<size_t>(p) * half;
    rotate_token<kBackward>(y + n * token_stride, x + n * token_stride, table.cos.data() + row,
                            table.sin.data() + row, half, H, D);
  }
}

}  // namespace

template <typename Real>
void rotary_forward(Real* out, const Real* inp, const int32_t* pos, const RotaryTable<Real>& table,
                    int N, int H, int D) {
  rotate_all<false>(out, inp, pos, table, N, H, D);
}

template <typename Real>
void rotary_backward(Real* dinp, const Real* dout, const int32_t* pos,
                     const RotaryTable<Real>& table, int N, int H, int D) {
  assert(dinp != dout);
  rotate_all<true>(dinp, dout, pos, table, N, H, D);
}

template struct RotaryTable<float>;
template struct RotaryTable<double>;
template void rotary_forward<float>(float*, const float*, const int32_t*,
                                    const RotaryTable<float>&, int, int, int);
template void rotary_forward<double>(double*, const double*, const int32_t*,
                                     const RotaryTable<double>&, int, int, int);
template void rotary_backward<float>(float*, const float*, const int32_t*,
                                     const RotaryTable<float>&, int, int, int);
template void rotary_backward<double>(double*, const double*, const int32_t*,
                                      const RotaryTable<double>&, int, int, int);

}  // namespace kiln::cpu
