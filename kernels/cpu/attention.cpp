#include "cpu/attention.h"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <limits>

#include "cpu/alibi.h"

namespace kiln::cpu {

namespace {

template <typename Real>
Real dot(const Real* a, const Real* b, int n) {
  Real s = 0;
  for (int d = 0; d < n; ++d) s += a[d] * b[d];
  return s;
}

// Pointers into the [B, T, H, D] tensors and the [B, H, T, T] probabilities for one (b, h).
// Token t of this head starts at base + t·row_stride.
struct HeadView {
  size_t base;        // offset of (b, 0, h, 0) in a [B, T, H, D] tensor
  size_t row_stride;  // H·D: from one token to the next
  size_t probs_base;  // offset of (b, h, 0, 0) in probs
};

inline HeadView head_view(int b, int h, int T, int H, int D) {
  return HeadView{(static_cast<size_t>(b) * T * H + h) * D, static_cast<size_t>(H) * D,
                  (static_cast<size_t>(b) * H + h) * T * T};
}

// Key j is visible from query i: causal, and in the same document when ids are given.
inline bool allowed(const int32_t* doc, int i, int j) {
  return j <= i && (doc == nullptr || doc[j] == doc[i]);
}

}  // namespace

template <typename Real>
void attention_forward(Real* out, Real* probs, const Real* q, const Real* k, const Real* v,
                       const AttentionArgs<Real>& args) {
  const int B = args.B, T = args.T, H = args.H, D = args.D;
#ifdef _OPENMP
#pragma omp parallel for collapse(2) schedule(static)
#endif
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < H; ++h) {
      const HeadView view = head_view(b, h, T, H, D);
      const int32_t* doc = args.doc_ids ? args.doc_ids + static_cast<size_t>(b) * T : nullptr;
      const Real slope = args.alibi_slopes ? args.alibi_slopes[h] : Real(0);
      for (int i = 0; i < T; ++i) {
        const Real* qi = q + view.base + i * view.row_stride;
        Real* p = probs + view.probs_base + static_cast<size_t>(i) * T;

        // Scores of the allowed keys, and their maximum for a stable softmax.
        Real max_score = -std::numeric_limits<Real>::infinity();
        for (int j = 0; j <= i; ++j) {
          if (!allowed(doc, i, j)) continue;
          Real s = args.scale * dot(qi, k + view.base + j * view.row_stride, D);
          if (args.alibi_slopes) s += alibi_bias(slope, i, j);
          p[j] = s;
          max_score = std::max(max_score, s);
        }
        // The diagonal is always allowed, so at least one score is finite.
        assert(max_score > -std::numeric_limits<Real>::infinity());

        Real sum = 0;
        for (int j = 0; j <= i; ++j) {
          if (allowed(doc, i, j)) {
            p[j] = std::exp(p[j] - max_score);
            sum += p[j];
          } else {
            p[j] = 0;
          }
        }
        std::fill(p + i + 1, p + T, Real(0));
        assert(sum >= Real(1));  // the maximum contributes exp(0) = 1
        const Real inv_sum = Real(1) / sum;
        for (int j = 0; j <= i; ++j) p[j] *= inv_sum;

        Real* oi = out + view.base + i * view.row_stride;
        std::fill(oi, oi + D, Real(0));
        for (int j = 0; j <= i; ++j) {
          if (p[j] == Real(0)) continue;  // masked (or underflowed): contributes nothing
          const Real* vj = v + view.base + j * view.row_stride;
          for (int d = 0; d < D; ++d) oi[d] += p[j] * vj[d];
        }
      }
    }
  }
}

template <typename Real>
void attention_backward(Real* dq, Real* dk, Real* dv, const Real* dout, const Real* q,
                        const Real* k, const Real* v, const Real* out, const Real* probs,
                        const AttentionArgs<Real>& args) {
  const int B = args.B, T = args.T, H = args.H, D = args.D;
  // Every write for (b, h) lands in that head's own slices of dq, dk and dv, so the (b, h) loop
  // parallelises without races, and each head's sums run in a fixed order.
#ifdef _OPENMP
#pragma omp parallel for collapse(2) schedule(static)
#endif
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < H; ++h) {
      const HeadView view = head_view(b, h, T, H, D);
      const int32_t* doc = args.doc_ids ? args.doc_ids + static_cast<size_t>(b) * T : nullptr;
      for (int i = 0; i < T; ++i) {
        const size_t oi = view.base + i * view.row_stride;
        const Real* p = probs + view.probs_base + static_cast<size_t>(i) * T;
        const Real* douti = dout + oi;
        // delta_i = Σ_j P[i, j]·(dout_i · v_j) = dout_i · out_i, since out_i = Σ_j P[i, j]·v_j.
        const Real delta = dot(douti, out + oi, D);
        for (int j = 0; j <= i; ++j) {
          if (!allowed(doc, i, j)) continue;
          const size_t oj = view.base + j * view.row_stride;
          const Real dp = dot(douti, v + oj, D);
          const Real ds = p[j] * (dp - delta) * args.scale;  // gradient w.r.t. q_i·k_j
          for (int d = 0; d < D; ++d) {
            dv[oj + d] += p[j] * douti[d];
            dq[oi + d] += ds * k[oj + d];
            dk[oj + d] += ds * q[oi + d];
          }
        }
      }
    }
  }
}

template void attention_forward<float>(float*, float*, const float*, const float*, const float*,
                                       const AttentionArgs<float>&);
template void attention_forward<double>(double*, double*, const double*, const double*,
                                        const double*, const AttentionArgs<double>&);
template void attention_backward<float>(float*, float*, float*, const float*, const float*,
                                        const float*, const float*, const float*, const float*,
                                        const AttentionArgs<float>&);
template void attention_backward<double>(double*, double*, double*, const double*, const double*,
                                         const double*, const double*, const double*,
                                         const double*, const AttentionArgs<double>&);

}  // namespace kiln::cpu
