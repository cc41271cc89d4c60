// One GPT-NeoX decoder block, forward and backward, as a sequence of Ops calls (ops/ops.h).
//
//   sequential (StableLM, BTLM):  mid = x + attn(LN1(x));    out = mid + mlp(LN2(mid))
//   parallel   (GPT-J style):     out = x + attn(LN1(x)) + mlp(LN2(x))
//
//   attn(h) = o_proj(attention(rotary(q_proj h), rotary(k_proj h), v_proj h))
//   mlp(h)  = down_proj(silu(gate_proj h) ⊙ up_proj h)     (SwiGLU)
//           | down_proj(gelu(up_proj h))                   (GELU)
//
// The block owns no memory. The decoder hands it views into its activation arena: the tensors
// forward saves for backward (BlockSaved, one set per layer) and gradient scratch (BlockScratch,
// one set shared by all layers, since backward visits one layer at a time). Token-major layouts
// throughout: [N, C] with N = B·T, q/k/v as [B, T, H, D] (the same memory as [N, C]). Every
// pointer is in the memory of the Ops backend that runs the block, which does all the work.
#pragma once

#include <cstdint>

#include "config/config.h"
#include "dist/communicator.h"
#include "model/param_layout.h"
#include "ops/ops.h"

namespace kiln {

// What does not change from call to call.
//
// Under tensor parallelism (docs/tensor-parallel.md) H and F are this rank's share (H/tp heads,
// ffn/tp columns), A = H·D is the width of this rank's q, k, v and attention output, and tp_comm
// is the TP group: the block all-reduces the outputs of o_proj and down_proj (adding their
// biases once, afterwards) and the input gradients of Q/K/V and gate/up. Without TP, A = C and
// tp_comm is null.
template <class Real>
struct BlockSpec {
  int C, H, D, F;                           // hidden, heads, head dim, MLP width (H, F: this rank's)
  NormType norm;
  Accum<Real> norm_eps;
  Activation activation;
  bool parallel_residual;
  Accum<Real> attn_scale;                   // 1/sqrt(D), or 1/D under µP's scale_qk_dot_by_d
  bool rotary;                              // rotary positions, with the ops' prepare_rotary table
  const Accum<Real>* alibi_slopes;          // [H] in the ops' memory (this rank's heads), or nullptr
  int A = 0;                                // H·D: attention width on this rank (C without TP)
  Communicator* tp_comm = nullptr;          // the TP group, or nullptr: no tensor parallelism
};

// The micro batch's shape and structure.
struct BlockBatch {
  int B, T;
  const int32_t* position_ids;  // [B, T]; read only with rotary
  const int32_t* doc_ids;       // [B, T], or nullptr: one document per row
};

// Saved by forward, read by backward. [N, C] unless noted; stats [N]; q, k, v, att [N, A];
// attn_saved: what the backend's attention keeps for its backward (Ops::attention_saved_elements:
// the probabilities on the CPU, the row log-sum-exp on the GPU); gate, up, act [N, F] (gate unused with GELU). For a parallel block `mid` holds the attention
// branch's output (kept for symmetry; backward does not read it).
template <class Real>
struct BlockSaved {
  Real* ln1;
  Accum<Real> *ln1_mean, *ln1_rstd;
  Real *q, *k, *v;  // q and k after rotary
  Accum<Real>* attn_saved;
  Real* att;
  Real *mid;
  Real* ln2;
  Accum<Real> *ln2_mean, *ln2_rstd;
  Real *gate, *up, *act;
};

// Gradient scratch, overwritten by every block_backward: dln [N, C]; datt, dq, dk, dv, dq_rot,
// dk_rot [N, A]; dact, dgate, dup [N, F].
template <class Real>
struct BlockScratch {
  Real *dln, *datt, *dq, *dk, *dv, *dq_rot, *dk_rot;
  Real *dact, *dgate, *dup;
};

// out = block(x). OVERWRITES out and every tensor of `saved`; x is kept by the caller for
// backward. out must not alias x.
template <class Real>
void block_forward(Ops<Real>& ops, Real* out, const Real* x, const LayerTensors<const Real*>& w,
                   const BlockSaved<Real>& saved, const BlockSpec<Real>& spec, const BlockBatch& batch);

// On entry dres holds d loss / d out; on return d loss / d x (the residual stream's gradient is
// carried in place, each branch adding its input gradient into it). Parameter gradients
// ACCUMULATE into `g` (nullptr entries skipped, as for absent biases). x, w and saved are what the
// matching block_forward read and wrote.
template <class Real>
void block_backward(Ops<Real>& ops, Real* dres, const LayerTensors<Real*>& g, const Real* x,
                    const LayerTensors<const Real*>& w, const BlockSaved<Real>& saved,
                    const BlockScratch<Real>& scratch, const BlockSpec<Real>& spec, const BlockBatch& batch);

// Selective recomputation: recomputes the MLP intermediates (gate, up, act) of `saved` from its
// saved LN2 output, as block_forward computed them, before block_backward reads them. Bit for bit
// the forward's values: the ops are deterministic.
template <class Real>
void block_recompute_mlp(Ops<Real>& ops, const LayerTensors<const Real*>& w, const BlockSaved<Real>& saved,
                         const BlockSpec<Real>& spec, const BlockBatch& batch);

// Full recomputation: reruns block_forward from the layer input x up to the MLP intermediates,
// rewriting every tensor of `saved` (bit for bit the forward's values) but not the block's output,
// which backward does not need: the down projection (and, under TP, its all-reduce) is skipped.
template <class Real>
void block_recompute(Ops<Real>& ops, const Real* x, const LayerTensors<const Real*>& w, const BlockSaved<Real>& saved,
                     const BlockSpec<Real>& spec, const BlockBatch& batch);

// The norm the config chose, over [N, C] rows: LayerNorm (bias optional) or RMSNorm (mean unused,
// bias must be null). Shared with the decoder's final norm.
template <class Real>
void norm_forward(Ops<Real>& ops, NormType type, Real* out, Accum<Real>* mean, Accum<Real>* rstd, const Real* inp,
                  const Real* weight, const Real* bias, int N, int C, Accum<Real> eps);
template <class Real>
void norm_backward(Ops<Real>& ops, NormType type, Real* dinp, Real* dweight, Real* dbias, const Real* dout,
                   const Real* inp, const Real* weight, const Accum<Real>* mean, const Accum<Real>* rstd, int N,
                   int C);

}  // namespace kiln
