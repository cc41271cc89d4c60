#include "ops/cpu_ops.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "cpu/alibi.h"
#include "cpu/attention.h"
#include "cpu/cross_entropy.h"
#include "cpu/embedding.h"
#include "cpu/layernorm.h"
#include "cpu/linear.h"
#include "cpu/mlp_activation.h"
#include "cpu/residual.h"
#include "cpu/rotary.h"

namespace kiln {
namespace {

template <class Real>
cpu::AttentionArgs<Real> to_cpu(const AttentionArgs<Real>& a) {
  return {a.B, a.T, a.H, a.D, a.scale, a.alibi_slopes, a.doc_ids};
}

}  // namespace

template <class Real>
CpuOps<Real>::CpuOps() = default;

template <class Real>
CpuOps<Real>::~CpuOps() = default;

template <class Real>
void* CpuOps<Real>::allocate(size_t bytes) {
  // A Buffer zero-fills and aligns to 64 bytes; sized in whole fp32 words.
  allocations_.emplace_back(DType::fp32, static_cast<int64_t>((bytes + 3) / 4));
  return allocations_.back().raw();
}

template <class Real>
void CpuOps<Real>::copy_from_host(void* dst, const void* host_src, size_t bytes) {
  if (bytes) std::memcpy(dst, host_src, bytes);
}

template <class Real>
void CpuOps<Real>::copy_to_host(void* host_dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(host_dst, src, bytes);
}

template <class Real>
void CpuOps<Real>::prepare_rotary(int rotary_dims, int max_positions, double theta) {
  rotary_ = std::make_unique<cpu::RotaryTable<Real>>(rotary_dims, max_positions, theta);
}

template <class Real>
const Real* CpuOps<Real>::prepare_alibi(int n_heads, int head_begin, int head_count) {
  std::vector<Real> slopes(static_cast<size_t>(std::max(head_count, 0)));
  cpu::alibi_slopes(slopes.data(), n_heads, head_begin, head_count);  // throws before anything changes
  alibi_slopes_ = std::move(slopes);
  return alibi_slopes_.data();
}

template <class Real>
const cpu::RotaryTable<Real>& CpuOps<Real>::rotary_table() const {
  if (!rotary_) throw std::logic_error("CpuOps: rotary op called before prepare_rotary");
  return *rotary_;
}

template <class Real>
void CpuOps<Real>::fill(Real* out, Real value, int64_t n) {
  std::fill(out, out + n, value);
}

template <class Real>
void CpuOps<Real>::convert(Real* out, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Real>(inp[i]);
}

template <class Real>
void CpuOps<Real>::fill_positions(int32_t* pos, int B, int T) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) pos[static_cast<int64_t>(b) * T + t] = t;
}

template <class Real>
void CpuOps<Real>::embedding_forward(Real* out, const int32_t* ids, const Real* wte, int N, int V, int C,
                                     Real scale) {
  cpu::embedding_forward(out, ids, wte, N, V, C, scale);
}

template <class Real>
void CpuOps<Real>::embedding_backward(Real* dwte, const Real* dout, const int32_t* ids, int N, int V, int C,
                                      Real scale) {
  cpu::embedding_backward(dwte, dout, ids, N, V, C, scale);
}

template <class Real>
void CpuOps<Real>::layernorm_forward(Real* out, Real* mean, Real* rstd, const Real* inp, const Real* weight,
                                     const Real* bias, int N, int C, Real eps) {
  cpu::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
}

template <class Real>
void CpuOps<Real>::layernorm_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                                      const Real* weight, const Real* mean, const Real* rstd, int N, int C) {
  cpu::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

template <class Real>
void CpuOps<Real>::rmsnorm_forward(Real* out, Real* rstd, const Real* inp, const Real* weight, int N, int C,
                                   Real eps) {
  cpu::rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
}

template <class Real>
void CpuOps<Real>::rmsnorm_backward(Real* dinp, Real* dweight, const Real* dout, const Real* inp,
                                    const Real* weight, const Real* rstd, int N, int C) {
  cpu::rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
}

template <class Real>
void CpuOps<Real>::linear_forward(Real* out, const Real* inp, const Real* weight, const Real* bias, int N, int IC,
                                  int OC) {
  cpu::linear_forward(out, inp, weight, bias, N, IC, OC);
}

template <class Real>
void CpuOps<Real>::linear_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                                   const Real* weight, int N, int IC, int OC) {
  cpu::linear_backward(dinp, dweight, dbias, dout, inp, weight, N, IC, OC);
}

template <class Real>
void CpuOps<Real>::bias_add_forward(Real* out, const Real* bias, int N, int OC) {
  cpu::bias_add_forward(out, bias, N, OC);
}

template <class Real>
void CpuOps<Real>::embedding_forward_vocab_range(Real* out, const int32_t* ids, const Real* wte_shard, int N,
                                                 int vocab_begin, int V_local, int C, Real scale) {
  cpu::embedding_forward_vocab_range(out, ids, wte_shard, N, vocab_begin, V_local, C, scale);
}

template <class Real>
void CpuOps<Real>::embedding_backward_vocab_range(Real* dwte_shard, const Real* dout, const int32_t* ids, int N,
                                                  int vocab_begin, int V_local, int C, Real scale) {
  cpu::embedding_backward_vocab_range(dwte_shard, dout, ids, N, vocab_begin, V_local, C, scale);
}

template <class Real>
void CpuOps<Real>::swiglu_forward(Real* out, const Real* gate, const Real* up, int64_t n) {
  cpu::swiglu_forward(out, gate, up, n);
}

template <class Real>
void CpuOps<Real>::swiglu_backward(Real* dgate, Real* dup, const Real* dout, const Real* gate, const Real* up,
                                   int64_t n) {
  cpu::swiglu_backward(dgate, dup, dout, gate, up, n);
}

template <class Real>
void CpuOps<Real>::gelu_forward(Real* out, const Real* inp, int64_t n) {
  cpu::gelu_forward(out, inp, n);
}

template <class Real>
void CpuOps<Real>::gelu_backward(Real* dinp, const Real* dout, const Real* inp, int64_t n) {
  cpu::gelu_backward(dinp, dout, inp, n);
}

template <class Real>
void CpuOps<Real>::residual_forward(Real* out, const Real* a, const Real* b, int64_t n) {
  cpu::residual_forward(out, a, b, n);
}

template <class Real>
void CpuOps<Real>::residual_backward(Real* da, Real* db, const Real* dout, int64_t n) {
  cpu::residual_backward(da, db, dout, n);
}

template <class Real>
void CpuOps<Real>::scale_forward(Real* out, const Real* inp, Real s, int64_t n) {
  cpu::scale_forward(out, inp, s, n);
}

template <class Real>
void CpuOps<Real>::scale_backward(Real* dinp, const Real* dout, Real s, int64_t n) {
  cpu::scale_backward(dinp, dout, s, n);
}

template <class Real>
double CpuOps<Real>::softmax_cross_entropy(Real* dlogits, Real* losses, const Real* logits, const int32_t* targets,
                                           const Real* mask, int N, int V, Real logit_scale, Real dloss_scale) {
  return cpu::softmax_cross_entropy(dlogits, losses, logits, targets, mask, N, V, logit_scale, dloss_scale);
}

template <class Real>
void CpuOps<Real>::vocab_parallel_ce_max(Real* row_max, const Real* logits, const Real* mask, int N, int V_local,
                                         Real logit_scale) {
  cpu::vocab_parallel_ce_max(row_max, logits, mask, N, V_local, logit_scale);
}

template <class Real>
void CpuOps<Real>::vocab_parallel_ce_sums(Real* sums, const Real* logits, const int32_t* targets, const Real* mask,
                                          const Real* row_max, int N, int V_local, int vocab_begin,
                                          Real logit_scale) {
  cpu::vocab_parallel_ce_sums(sums, logits, targets, mask, row_max, N, V_local, vocab_begin, logit_scale);
}

template <class Real>
double CpuOps<Real>::vocab_parallel_ce_finish(Real* dlogits, Real* losses, const Real* logits,
                                              const int32_t* targets, const Real* mask, const Real* row_max,
                                              const Real* sums, int N, int V_local, int vocab_begin,
                                              Real logit_scale, Real dloss_scale) {
  return cpu::vocab_parallel_ce_finish(dlogits, losses, logits, targets, mask, row_max, sums, N, V_local,
                                       vocab_begin, logit_scale, dloss_scale);
}

template <class Real>
void CpuOps<Real>::rotary_forward(Real* out, const Real* inp, const int32_t* pos, int N, int H, int D) {
  cpu::rotary_forward(out, inp, pos, rotary_table(), N, H, D);
}

template <class Real>
void CpuOps<Real>::rotary_backward(Real* dinp, const Real* dout, const int32_t* pos, int N, int H, int D) {
  cpu::rotary_backward(dinp, dout, pos, rotary_table(), N, H, D);
}

template <class Real>
void CpuOps<Real>::attention_forward(Real* out, Real* probs, const Real* q, const Real* k, const Real* v,
                                     const AttentionArgs<Real>& args) {
  cpu::attention_forward(out, probs, q, k, v, to_cpu(args));
}

template <class Real>
void CpuOps<Real>::attention_backward(Real* dq, Real* dk, Real* dv, const Real* dout, const Real* q, const Real* k,
                                      const Real* v, const Real* out, const Real* probs,
                                      const AttentionArgs<Real>& args) {
  cpu::attention_backward(dq, dk, dv, dout, q, k, v, out, probs, to_cpu(args));
}

template class CpuOps<float>;
template class CpuOps<double>;

}  // namespace kiln
