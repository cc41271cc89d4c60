// Causal multi-head self-attention: the CPU reference.
//
// For each batch row b, head h and query position i:
//
//   s[i, j] = scale · (q_i · k_j) + bias_h(i, j)       for allowed j, −∞ otherwise
//   P[i, :] = softmax(s[i, :])
//   out_i   = Σ_j P[i, j] · v_j
//
// where
//   - scale is 1/sqrt(D) (standard) or 1/D (µP's scale_qk_dot_by_d, BTLM), chosen by the caller
//     (ops/ops.h: attention_scale);
//   - bias_h(i, j) = −slope_h·(i − j) with ALiBi (alibi.h), 0 otherwise; it is not scaled;
//   - j is allowed iff j ≤ i (causal) and doc[j] == doc[i]. Per-token document ids implement
//     `reset_attention_mask` for packed sequences: a token never attends across a document
//     boundary. Without reset the caller passes nullptr (one document per row). The diagonal is
//     always allowed, so no row is ever empty.
//
// Layouts, all row-major:
//   q, k, v, out, and their gradients   [B, T, H, D]   (token-major, heads inside: what a QKV
//                                                         linear produces, viewed per head)
//   probs (saved for backward)          [B, H, T, T]   row i holds P[i, 0 .. T−1]; masked and
//                                                         future entries are exactly 0
//   doc_ids                             [B, T]         any int32 values; only equality matters
//   alibi_slopes                        [H]            this rank's heads (alibi_slopes())
//
// Saving the full probability matrix costs B·H·T² values. That is fine for the CPU reference,
// which runs tests and small models; the CUDA path uses a fused (flash) kernel that saves only
// the per-row softmax statistics and recomputes P in backward. The backward here follows the same
// formulation (it uses delta_i = dout_i · out_i, as flash attention does), so the two mirror each
// other.
//
// Softmax is numerically stable (the row maximum is subtracted before exponentiating). Arithmetic
// is in Real; the kernels parallelise over (b, h) with OpenMP when it is enabled, and each (b, h)
// is computed serially in a fixed order, so results do not depend on the thread count.
#pragma once

#include <cmath>
#include <cstdint>

namespace kiln::cpu {

// Shapes and options shared by the forward and backward passes.
template <typename Real>
struct AttentionArgs {
  int B;                      // batch rows (sequences)
  int T;                      // sequence length
  int H;                      // heads on this rank
  int D;                      // head dimension
  Real scale;                 // multiplies q·k: attention_scale(D, scale_qk_dot_by_d)
  const Real* alibi_slopes;   // [H], or nullptr for no position bias (rotary models)
  const int32_t* doc_ids;     // [B, T], or nullptr: every row is one document
};

// Forward pass. OVERWRITES out [B, T, H, D] and probs [B, H, T, T] (every entry, zeros included).
// probs is saved for attention_backward; q, k, v and out must also be kept unchanged until then.
// No output may alias an input.
template <typename Real>
void attention_forward(Real* out, Real* probs, const Real* q, const Real* k, const Real* v,
                       const AttentionArgs<Real>& args);

// Backward pass, given dout [B, T, H, D] and what the forward pass read and wrote (q, k, v, its
// out and probs, the same args). ACCUMULATES into dq, dk, dv [B, T, H, D], as every kiln backward
// does for input gradients: zero them first if they hold nothing yet. The gradient buffers must not
// alias each other or any input. ALiBi slopes and document ids are constants: no gradient.
//
//   dv_j += Σ_i P[i, j] · dout_i
//   dP[i, j] = dout_i · v_j,  delta_i = Σ_j P[i, j]·dP[i, j] = dout_i · out_i
//   dS[i, j] = P[i, j] · (dP[i, j] − delta_i)
//   dq_i += scale · Σ_j dS[i, j] · k_j,   dk_j += scale · Σ_i dS[i, j] · q_i
template <typename Real>
void attention_backward(Real* dq, Real* dk, Real* dv, const Real* dout, const Real* q,
                        const Real* k, const Real* v, const Real* out, const Real* probs,
                        const AttentionArgs<Real>& args);

}  // namespace kiln::cpu
