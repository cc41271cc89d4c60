#include "model/block.h"

#include "model/tensor_parallel.h"


namespace kiln {
namespace {

// The TP group's all-reduce (sum) of n elements in place; nothing without TP.
template <class Real>
void tp_all_reduce(const BlockSpec<Real>& spec, Real* buf, int64_t n) {
  if (spec.tp_comm) spec.tp_comm->all_reduce(buf, static_cast<size_t>(n), comm_dtype<Real>(), ReduceOp::sum);
}

// A row-parallel linear (o_proj, down_proj): out = inp · weightᵀ + bias over the full output
// width C. Under TP each rank multiplies its input columns, the partial sums are all-reduced and
// the bias is added once, after the reduction. Without TP it is the plain linear, bias included.
template <class Real>
void row_parallel_forward(Ops<Real>& ops, Real* out, const Real* inp, const Real* weight, const Real* bias, int N,
                          int IC, const BlockSpec<Real>& spec) {
  if (!spec.tp_comm) {
    ops.linear_forward(out, inp, weight, bias, N, IC, spec.C);
    return;
  }
  ops.linear_forward(out, inp, weight, nullptr, N, IC, spec.C);
  tp_all_reduce(spec, out, static_cast<int64_t>(N) * spec.C);
  if (bias) ops.bias_add_forward(out, bias, N, spec.C);
}

template <class Real>
AttentionArgs<Real> attention_args(const BlockSpec<Real>& spec, const BlockBatch& batch) {
  return {batch.B, batch.T, spec.H, spec.D, spec.attn_scale, spec.alibi_slopes, batch.doc_ids};
}

// attn(LN1(x)) up to the attention output `att` (before o_proj).
template <class Real>
void attention_branch_forward(Ops<Real>& ops, const Real* x, const LayerTensors<const Real*>& w,
                              const BlockSaved<Real>& s, const BlockSpec<Real>& spec, const BlockBatch& batch) {
  const int N = batch.B * batch.T, C = spec.C;
  norm_forward(ops, spec.norm, s.ln1, s.ln1_mean, s.ln1_rstd, x, w.ln1_w, w.ln1_b, N, C, spec.norm_eps);
  ops.linear_forward(s.q, s.ln1, w.q_w, w.q_b, N, C, spec.A);
  ops.linear_forward(s.k, s.ln1, w.k_w, w.k_b, N, C, spec.A);
  ops.linear_forward(s.v, s.ln1, w.v_w, w.v_b, N, C, spec.A);
  if (spec.rotary) {  // in place: backward needs only the rotated q and k, and the positions
    ops.rotary_forward(s.q, s.q, batch.position_ids, N, spec.H, spec.D);
    ops.rotary_forward(s.k, s.k, batch.position_ids, N, spec.H, spec.D);
  }
  ops.attention_forward(s.att, s.attn_saved, s.q, s.k, s.v, attention_args(spec, batch));
}

// mlp(h) without the down projection: leaves the activation output in s.act.
template <class Real>
void mlp_branch_forward(Ops<Real>& ops, const Real* h, const LayerTensors<const Real*>& w, const BlockSaved<Real>& s,
                        const BlockSpec<Real>& spec, int N) {
  const int64_t nf = static_cast<int64_t>(N) * spec.F;
  ops.linear_forward(s.up, h, w.up_w, w.up_b, N, spec.C, spec.F);
  if (spec.activation == Activation::swiglu) {
    ops.linear_forward(s.gate, h, w.gate_w, w.gate_b, N, spec.C, spec.F);
    ops.swiglu_forward(s.act, s.gate, s.up, nf);
  } else {
    ops.gelu_forward(s.act, s.up, nf);
  }
}

// Backward of o_proj: reads dout (the gradient of the branch output), leaves d att in scratch.
template <class Real>
void o_proj_backward(Ops<Real>& ops, const Real* dout, const LayerTensors<Real*>& g, const LayerTensors<const Real*>& w,
                     const BlockSaved<Real>& s, const BlockScratch<Real>& sc, const BlockSpec<Real>& spec, int N) {
  // Row-parallel under TP: dout is the full (replicated) gradient, d att this rank's heads', and
  // the bias gradient Σ_n dout the same on every rank.
  ops.fill(sc.datt, Accum<Real>(0), static_cast<int64_t>(N) * spec.A);
  ops.linear_backward(sc.datt, g.o_w, g.o_b, dout, s.att, w.o_w, N, spec.A, spec.C);
}

// Backward of down_proj: reads dout, leaves d act in scratch.
template <class Real>
void down_proj_backward(Ops<Real>& ops, const Real* dout, const LayerTensors<Real*>& g,
                        const LayerTensors<const Real*>& w, const BlockSaved<Real>& s, const BlockScratch<Real>& sc,
                        const BlockSpec<Real>& spec, int N) {
  ops.fill(sc.dact, Accum<Real>(0), static_cast<int64_t>(N) * spec.F);
  ops.linear_backward(sc.dact, g.down_w, g.down_b, dout, s.act, w.down_w, N, spec.F, spec.C);
}

// From d act (scratch) through the activation, gate/up and LN2; adds d ln2_input into dres.
template <class Real>
void mlp_rest_backward(Ops<Real>& ops, Real* dres, const Real* ln2_input, const LayerTensors<Real*>& g,
                       const LayerTensors<const Real*>& w, const BlockSaved<Real>& s, const BlockScratch<Real>& sc,
                       const BlockSpec<Real>& spec, int N) {
  const int C = spec.C, F = spec.F;
  const int64_t nf = static_cast<int64_t>(N) * F;
  ops.fill(sc.dup, Accum<Real>(0), nf);
  ops.fill(sc.dln, Accum<Real>(0), static_cast<int64_t>(N) * C);
  if (spec.activation == Activation::swiglu) {
    ops.fill(sc.dgate, Accum<Real>(0), nf);
    ops.swiglu_backward(sc.dgate, sc.dup, sc.dact, s.gate, s.up, nf);
    ops.linear_backward(sc.dln, g.gate_w, g.gate_b, sc.dgate, s.ln2, w.gate_w, N, C, F);
  } else {
    ops.gelu_backward(sc.dup, sc.dact, s.up, nf);
  }
  ops.linear_backward(sc.dln, g.up_w, g.up_b, sc.dup, s.ln2, w.up_w, N, C, F);
  tp_all_reduce(spec, sc.dln, static_cast<int64_t>(N) * C);  // column-parallel input: sum the ranks' parts
  norm_backward(ops, spec.norm, dres, g.ln2_w, g.ln2_b, sc.dln, ln2_input, w.ln2_w, s.ln2_mean, s.ln2_rstd, N, C);
}

// From d att (scratch) through attention, rotary, Q/K/V and LN1; adds d x into dres.
template <class Real>
void attention_rest_backward(Ops<Real>& ops, Real* dres, const Real* x, const LayerTensors<Real*>& g,
                             const LayerTensors<const Real*>& w, const BlockSaved<Real>& s,
                             const BlockScratch<Real>& sc, const BlockSpec<Real>& spec, const BlockBatch& batch) {
  const int N = batch.B * batch.T, C = spec.C;
  const int64_t nc = static_cast<int64_t>(N) * C;
  const int64_t na = static_cast<int64_t>(N) * spec.A;
  ops.fill(sc.dq, Accum<Real>(0), na);
  ops.fill(sc.dk, Accum<Real>(0), na);
  ops.fill(sc.dv, Accum<Real>(0), na);
  ops.attention_backward(sc.dq, sc.dk, sc.dv, sc.datt, s.q, s.k, s.v, s.att, s.attn_saved, attention_args(spec, batch));
  // dq, dk are gradients of the rotated q, k; rotate them back to the projections' outputs.
  const Real* dq = sc.dq;
  const Real* dk = sc.dk;
  if (spec.rotary) {
    ops.fill(sc.dq_rot, Accum<Real>(0), na);
    ops.fill(sc.dk_rot, Accum<Real>(0), na);
    ops.rotary_backward(sc.dq_rot, sc.dq, batch.position_ids, N, spec.H, spec.D);
    ops.rotary_backward(sc.dk_rot, sc.dk, batch.position_ids, N, spec.H, spec.D);
    dq = sc.dq_rot;
    dk = sc.dk_rot;
  }
  ops.fill(sc.dln, Accum<Real>(0), nc);
  ops.linear_backward(sc.dln, g.q_w, g.q_b, dq, s.ln1, w.q_w, N, C, spec.A);
  ops.linear_backward(sc.dln, g.k_w, g.k_b, dk, s.ln1, w.k_w, N, C, spec.A);
  ops.linear_backward(sc.dln, g.v_w, g.v_b, sc.dv, s.ln1, w.v_w, N, C, spec.A);
  tp_all_reduce(spec, sc.dln, nc);  // column-parallel input: sum the ranks' parts
  norm_backward(ops, spec.norm, dres, g.ln1_w, g.ln1_b, sc.dln, x, w.ln1_w, s.ln1_mean, s.ln1_rstd, N, C);
}

}  // namespace

template <class Real>
void norm_forward(Ops<Real>& ops, NormType type, Real* out, Accum<Real>* mean, Accum<Real>* rstd, const Real* inp,
                  const Real* weight, const Real* bias, int N, int C, Accum<Real> eps) {
  if (type == NormType::layernorm)
    ops.layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
  else
    ops.rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
}

template <class Real>
void norm_backward(Ops<Real>& ops, NormType type, Real* dinp, Real* dweight, Real* dbias, const Real* dout,
                   const Real* inp, const Real* weight, const Accum<Real>* mean, const Accum<Real>* rstd, int N,
                   int C) {
  if (type == NormType::layernorm)
    ops.layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
  else
    ops.rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
}

// Everything block_forward saves, up to the MLP intermediates: what full recomputation reruns.
template <class Real>
void forward_to_mlp(Ops<Real>& ops, const Real* x, const LayerTensors<const Real*>& w, const BlockSaved<Real>& s,
                    const BlockSpec<Real>& spec, const BlockBatch& batch) {
  const int N = batch.B * batch.T, C = spec.C;
  const int64_t nc = static_cast<int64_t>(N) * C;

  attention_branch_forward(ops, x, w, s, spec, batch);
  row_parallel_forward(ops, s.mid, s.att, w.o_w, w.o_b, N, spec.A, spec);  // the attention branch's output
  // Sequential: mid = x + attn, and the MLP reads LN2(mid). Parallel: the MLP reads LN2(x) and
  // mid stays the bare branch output, added at the end.
  if (!spec.parallel_residual) ops.residual_forward(s.mid, s.mid, x, nc);
  const Real* ln2_input = spec.parallel_residual ? x : s.mid;

  norm_forward(ops, spec.norm, s.ln2, s.ln2_mean, s.ln2_rstd, ln2_input, w.ln2_w, w.ln2_b, N, C, spec.norm_eps);
  mlp_branch_forward(ops, s.ln2, w, s, spec, N);
}

template <class Real>
void block_forward(Ops<Real>& ops, Real* out, const Real* x, const LayerTensors<const Real*>& w,
                   const BlockSaved<Real>& s, const BlockSpec<Real>& spec, const BlockBatch& batch) {
  const int N = batch.B * batch.T;
  const int64_t nc = static_cast<int64_t>(N) * spec.C;
  forward_to_mlp(ops, x, w, s, spec, batch);
  row_parallel_forward(ops, out, s.act, w.down_w, w.down_b, N, spec.F, spec);
  if (spec.parallel_residual) {
    ops.residual_forward(out, out, x, nc);
    ops.residual_forward(out, out, s.mid, nc);
  } else {
    ops.residual_forward(out, out, s.mid, nc);
  }
}

template <class Real>
void block_backward(Ops<Real>& ops, Real* dres, const LayerTensors<Real*>& g, const Real* x,
                    const LayerTensors<const Real*>& w, const BlockSaved<Real>& s, const BlockScratch<Real>& sc,
                    const BlockSpec<Real>& spec, const BlockBatch& batch) {
  const int N = batch.B * batch.T;
  if (spec.parallel_residual) {
    // Both branches read d out. Take both output projections' input gradients before either
    // branch's norm adds its contribution into dres, which would change d out under them.
    o_proj_backward(ops, dres, g, w, s, sc, spec, N);
    down_proj_backward(ops, dres, g, w, s, sc, spec, N);
    mlp_rest_backward(ops, dres, x, g, w, s, sc, spec, N);
  } else {
    // dres = d out; the MLP branch adds into it, making it d mid, which the attention branch reads.
    down_proj_backward(ops, dres, g, w, s, sc, spec, N);
    mlp_rest_backward(ops, dres, s.mid, g, w, s, sc, spec, N);
    o_proj_backward(ops, dres, g, w, s, sc, spec, N);
  }
  attention_rest_backward(ops, dres, x, g, w, s, sc, spec, batch);
}

template <class Real>
void block_recompute_mlp(Ops<Real>& ops, const LayerTensors<const Real*>& w, const BlockSaved<Real>& s,
                         const BlockSpec<Real>& spec, const BlockBatch& batch) {
  mlp_branch_forward(ops, s.ln2, w, s, spec, batch.B * batch.T);
}

template <class Real>
void block_recompute(Ops<Real>& ops, const Real* x, const LayerTensors<const Real*>& w, const BlockSaved<Real>& s,
                     const BlockSpec<Real>& spec, const BlockBatch& batch) {
  forward_to_mlp(ops, x, w, s, spec, batch);
}

#define KILN_INSTANTIATE_BLOCK(Real)                                                                                  \
  template void norm_forward<Real>(Ops<Real>&, NormType, Real*, Accum<Real>*, Accum<Real>*, const Real*,             \
                                   const Real*, const Real*, int, int, Accum<Real>);                                  \
  template void norm_backward<Real>(Ops<Real>&, NormType, Real*, Real*, Real*, const Real*, const Real*,              \
                                    const Real*, const Accum<Real>*, const Accum<Real>*, int, int);                   \
  template void block_forward<Real>(Ops<Real>&, Real*, const Real*, const LayerTensors<const Real*>&,                 \
                                    const BlockSaved<Real>&, const BlockSpec<Real>&, const BlockBatch&);              \
  template void block_backward<Real>(Ops<Real>&, Real*, const LayerTensors<Real*>&, const Real*,                      \
                                     const LayerTensors<const Real*>&, const BlockSaved<Real>&,                       \
                                     const BlockScratch<Real>&, const BlockSpec<Real>&, const BlockBatch&);          \
  template void block_recompute_mlp<Real>(Ops<Real>&, const LayerTensors<const Real*>&, const BlockSaved<Real>&,       \
                                          const BlockSpec<Real>&, const BlockBatch&);                                 \
  template void block_recompute<Real>(Ops<Real>&, const Real*, const LayerTensors<const Real*>&,                       \
                                      const BlockSaved<Real>&, const BlockSpec<Real>&, const BlockBatch&);

KILN_INSTANTIATE_BLOCK(float)
KILN_INSTANTIATE_BLOCK(double)
KILN_INSTANTIATE_BLOCK(bf16)

}  // namespace kiln
