// Ops: the one interface between the model and whatever runs its math (DESIGN.md, "ops").
//
// Every op the decoder uses is one virtual method here. CpuOps (cpu_ops.h) forwards each to the
// reference kernels in kernels/cpu; a CUDA backend will implement the same methods on the GPU and
// be tested against CpuOps. Nothing above this interface knows which device runs it, so the model
// touches activation and gradient memory only through these methods: no memset, std::fill or
// std::copy on a buffer the backend owns.
//
// Contract (docs/cpu-kernels.md, "Conventions", and the kernel header named beside each method,
// which states the math, the layouts and the aliasing rules in full):
//   - Every pointer is a pointer into the backend's memory (host memory for CpuOps, device memory
//     for CUDA), including the int32 token, target, position and document ids and the loss mask.
//     Scalars and shapes are passed by value on the host.
//   - Forward methods OVERWRITE their outputs. Backward methods ACCUMULATE (+=) into every
//     gradient they produce, parameters and inputs alike, so callers zero a gradient buffer
//     (fill(p, 0, n)) before its first contribution. The exception is softmax_cross_entropy, which
//     OVERWRITES dlogits: it starts the backward pass.
//   - Optional tensors (biases and their gradients, norm statistics, the mask, slopes, doc ids) are
//     nullptr when absent, exactly where the kernel accepts nullptr.
//   - Results do not depend on the backend's thread count; for CpuOps they are bitwise those of the
//     kernels it wraps.
//   - An Ops object may hold backend state built once at start-up (the rotary tables, the ALiBi
//     slopes). It is not thread-safe: one model drives one Ops at a time.
#pragma once

#include <cmath>
#include <cstdint>

#include <cstddef>

#include "tensor/bf16.h"
#include "tensor/buffer.h"

namespace kiln {

// The type of everything an op keeps at full precision beside its storage type Real: scalars
// (scales, eps, fill values), statistics saved for backward (norm mean/rstd, attention's softmax
// statistics), per-token losses, the cross-entropy's row statistics and the ALiBi slopes. For bf16
// storage that is fp32 ("bf16 storage, fp32 accumulation"); for the CPU reference types (float,
// double) it is the type itself, so CpuOps<float> and CpuOps<double> see no difference.
template <class Real>
struct AccumOf {
  using type = Real;
};
template <>
struct AccumOf<bf16> {
  using type = float;
};
template <class Real>
using Accum = typename AccumOf<Real>::type;

// Shapes and options of one attention call, as kernels/cpu/attention.h describes them:
// q, k, v, out [B, T, H, D]; alibi_slopes [H] (backend memory, from Ops::prepare_alibi) or nullptr;
// doc_ids [B, T] or nullptr (one document per row). What attention_forward saves for the backward
// ("saved", Ops::attention_saved_elements) is the backend's business: the CPU reference keeps the
// probabilities [B, H, T, T], a fused GPU kernel the log-sum-exp of each row [B, H, T].
template <class Real>
struct AttentionArgs {
  int B, T, H, D;
  Accum<Real> scale;          // multiplies q·k: attention_scale(D, scale_qk_dot_by_d)
  const Accum<Real>* alibi_slopes;
  const int32_t* doc_ids;
};

// The q·k multiplier: 1/D under µP's scale_qk_dot_by_d (BTLM), 1/sqrt(D) otherwise. A model rule,
// so it lives here; the kernels take the value.
inline double attention_scale(int head_dim, bool scale_qk_dot_by_d) {
  return scale_qk_dot_by_d ? 1.0 / head_dim : 1.0 / std::sqrt(static_cast<double>(head_dim));
}

template <class Real>
class Ops {
 public:
  using Acc = Accum<Real>;

  virtual ~Ops() = default;

  // Where this backend's pointers live.
  virtual DeviceKind device() const = 0;

  // ---- memory, planned once at start-up ----

  // `bytes` of zero-filled backend memory, aligned to at least 64 bytes, owned by this object until it is
  // destroyed: how a model allocates its activation arena once (no allocation in the step loop).
  // Throws std::runtime_error naming the size when the memory cannot be had.
  virtual void* allocate(size_t bytes) = 0;
  // Copies between host memory and this backend's memory. Both return once `dst` holds the data
  // (the CPU backend: std::memcpy). Not for the step loop's hot path beyond the batch upload.
  virtual void copy_from_host(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;
  // Waits until every op issued so far has finished (a no-op on the CPU).
  virtual void synchronize() = 0;

  // Elements of Acc that attention_forward saves for attention_backward for a [B, T, H, ·] call:
  // B·H·T·T (the probabilities) on the CPU, B·H·T (row log-sum-exp) for a fused kernel.
  virtual int64_t attention_saved_elements(int B, int H, int T) const = 0;

  // ---- backend state, built once at start-up ----

  // Builds the rotary cos/sin tables for rotary_forward/backward (cpu/rotary.h, RotaryTable):
  // positions [0, max_positions), the first rotary_dims of each head, base theta. Replaces any
  // earlier table. Throws std::invalid_argument unless rotary_dims is positive and even,
  // max_positions positive and theta > 0.
  virtual void prepare_rotary(int rotary_dims, int max_positions, double theta) = 0;

  // Computes the ALiBi slopes of heads [head_begin, head_begin + head_count) of an n_heads model
  // (cpu/alibi.h, alibi_slopes) into backend memory that this object owns, and returns it for
  // AttentionArgs::alibi_slopes. Valid until the next prepare_alibi or the object's destruction.
  // Throws std::invalid_argument if the slice is not inside [0, n_heads).
  virtual const Acc* prepare_alibi(int n_heads, int head_begin, int head_count) = 0;

  // ---- buffers ----

  // out[i] = value for i < n. fill(p, 0, n) is how gradients are zeroed before accumulation.
  virtual void fill(Real* out, Acc value, int64_t n) = 0;
  // out[i] = Real(inp[i]) for i < n (e.g. the batch's float loss mask into the Real mask that
  // softmax_cross_entropy takes). out must not overlap inp.
  virtual void convert(Real* out, const float* inp, int64_t n) = 0;
  // pos[b·T + t] = t for b < B, t < T: the position ids of B rows that each start at 0.
  virtual void fill_positions(int32_t* pos, int B, int T) = 0;

  // ---- cpu/embedding.h ----
  virtual void embedding_forward(Real* out, const int32_t* ids, const Real* wte, int N, int V, int C,
                                 Acc scale) = 0;
  virtual void embedding_backward(Real* dwte, const Real* dout, const int32_t* ids, int N, int V, int C,
                                  Acc scale) = 0;
  // Vocab-parallel forms (tensor parallelism): wte_shard holds rows [vocab_begin, vocab_begin +
  // V_local) of the table; ids outside that range give zero rows forward and nothing backward.
  // The caller all-reduces the forward output over the TP group.
  virtual void embedding_forward_vocab_range(Real* out, const int32_t* ids, const Real* wte_shard, int N,
                                             int vocab_begin, int V_local, int C, Acc scale) = 0;
  virtual void embedding_backward_vocab_range(Real* dwte_shard, const Real* dout, const int32_t* ids, int N,
                                              int vocab_begin, int V_local, int C, Acc scale) = 0;

  // ---- cpu/layernorm.h ----
  virtual void layernorm_forward(Real* out, Acc* mean, Acc* rstd, const Real* inp, const Real* weight,
                                 const Real* bias, int N, int C, Acc eps) = 0;
  virtual void layernorm_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                                  const Real* weight, const Acc* mean, const Acc* rstd, int N, int C) = 0;
  virtual void rmsnorm_forward(Real* out, Acc* rstd, const Real* inp, const Real* weight, int N, int C,
                               Acc eps) = 0;
  virtual void rmsnorm_backward(Real* dinp, Real* dweight, const Real* dout, const Real* inp, const Real* weight,
                                const Acc* rstd, int N, int C) = 0;

  // ---- cpu/linear.h: out = inp·weightᵀ + bias, weight [OC, IC] ----
  virtual void linear_forward(Real* out, const Real* inp, const Real* weight, const Real* bias, int N, int IC,
                              int OC) = 0;
  virtual void linear_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                               const Real* weight, int N, int IC, int OC) = 0;
  // out[n, :] += bias: a row-parallel linear's bias, added once after the all-reduce (its
  // gradient is linear_backward's dbias).
  virtual void bias_add_forward(Real* out, const Real* bias, int N, int OC) = 0;

  // ---- cpu/mlp_activation.h ----
  virtual void swiglu_forward(Real* out, const Real* gate, const Real* up, int64_t n) = 0;
  virtual void swiglu_backward(Real* dgate, Real* dup, const Real* dout, const Real* gate, const Real* up,
                               int64_t n) = 0;
  virtual void gelu_forward(Real* out, const Real* inp, int64_t n) = 0;
  virtual void gelu_backward(Real* dinp, const Real* dout, const Real* inp, int64_t n) = 0;

  // ---- cpu/residual.h ----
  virtual void residual_forward(Real* out, const Real* a, const Real* b, int64_t n) = 0;
  virtual void residual_backward(Real* da, Real* db, const Real* dout, int64_t n) = 0;
  virtual void scale_forward(Real* out, const Real* inp, Acc s, int64_t n) = 0;
  virtual void scale_backward(Real* dinp, const Real* dout, Acc s, int64_t n) = 0;

  // ---- cpu/cross_entropy.h: returns Σ_n losses[n] (on the host); OVERWRITES dlogits ----
  virtual double softmax_cross_entropy(Real* dlogits, Acc* losses, const Real* logits, const int32_t* targets,
                                       const Real* mask, int N, int V, Acc logit_scale, Acc dloss_scale) = 0;

  // ---- cpu/cross_entropy.h, vocab-parallel form: logits [N, V_local] hold vocabulary entries
  // [vocab_begin, vocab_begin + V_local). The caller all-reduces row_max (MAX) after the first
  // call and sums ([2N], SUM) after the second; model/tensor_parallel.h's
  // vocab_parallel_cross_entropy runs the whole sequence. ----
  virtual void vocab_parallel_ce_max(Acc* row_max, const Real* logits, const Real* mask, int N, int V_local,
                                     Acc logit_scale) = 0;
  virtual void vocab_parallel_ce_sums(Acc* sums, const Real* logits, const int32_t* targets, const Real* mask,
                                      const Acc* row_max, int N, int V_local, int vocab_begin,
                                      Acc logit_scale) = 0;
  virtual double vocab_parallel_ce_finish(Real* dlogits, Acc* losses, const Real* logits, const int32_t* targets,
                                          const Real* mask, const Acc* row_max, const Acc* sums, int N,
                                          int V_local, int vocab_begin, Acc logit_scale, Acc dloss_scale) = 0;

  // ---- cpu/rotary.h, with the table of prepare_rotary (std::logic_error without one) ----
  virtual void rotary_forward(Real* out, const Real* inp, const int32_t* pos, int N, int H, int D) = 0;
  virtual void rotary_backward(Real* dinp, const Real* dout, const int32_t* pos, int N, int H, int D) = 0;

  // ---- cpu/attention.h ----
  // saved: attention_saved_elements(B, H, T) elements, written by the forward, read by the backward.
  virtual void attention_forward(Real* out, Acc* saved, const Real* q, const Real* k, const Real* v,
                                 const AttentionArgs<Real>& args) = 0;
  virtual void attention_backward(Real* dq, Real* dk, Real* dv, const Real* dout, const Real* q, const Real* k,
                                  const Real* v, const Real* out, const Acc* saved,
                                  const AttentionArgs<Real>& args) = 0;
};

}  // namespace kiln
