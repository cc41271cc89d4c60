// ProfiledOps: an Ops that forwards every call to another Ops and times it with an OpTimer.
//
// The per-op breakdown behind performance work (docs/performance.md): wrap a model's backend in
// it (the trainer does when KILN_PROFILE_OPS=1) and read profile() after some steps. Results are
// those of the wrapped backend, bit for bit: nothing is computed here. Ops are labelled by name;
// GEMMs also by shape ("linear_forward 8192x2048->6144"), since which projection a GEMM is matters
// more than that it is one. Memory, copies, synchronisation and start-up tables are forwarded
// untimed.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ops/op_profile.h"
#include "ops/ops.h"

namespace kiln {

template <class Real>
class ProfiledOps final : public Ops<Real> {
 public:
  using Acc = Accum<Real>;

  ProfiledOps(std::unique_ptr<Ops<Real>> inner, std::unique_ptr<OpTimer> timer)
      : inner_(std::move(inner)), timer_(std::move(timer)) {}

  Ops<Real>& inner() { return *inner_; }
  std::vector<OpTime> profile() { return timer_->totals(); }

  DeviceKind device() const override { return inner_->device(); }
  void* allocate(size_t bytes) override { return inner_->allocate(bytes); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override { inner_->copy_from_host(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { inner_->copy_to_host(dst, src, bytes); }
  void synchronize() override { inner_->synchronize(); }
  int64_t attention_saved_elements(int B, int H, int T) const override {
    return inner_->attention_saved_elements(B, H, T);
  }
  void prepare_rotary(int rotary_dims, int max_positions, double theta) override {
    inner_->prepare_rotary(rotary_dims, max_positions, theta);
  }
  const Acc* prepare_alibi(int n_heads, int head_begin, int head_count) override {
    return inner_->prepare_alibi(n_heads, head_begin, head_count);
  }

  void fill(Real* out, Acc value, int64_t n) override { timed("fill", [&] { inner_->fill(out, value, n); }); }
  void convert(Real* out, const float* inp, int64_t n) override {
    timed("convert", [&] { inner_->convert(out, inp, n); });
  }
  void fill_positions(int32_t* pos, int B, int T) override {
    timed("fill_positions", [&] { inner_->fill_positions(pos, B, T); });
  }

  void embedding_forward(Real* out, const int32_t* ids, const Real* wte, int N, int V, int C, Acc scale) override {
    timed("embedding_forward", [&] { inner_->embedding_forward(out, ids, wte, N, V, C, scale); });
  }
  void embedding_backward(Real* dwte, const Real* dout, const int32_t* ids, int N, int V, int C, Acc scale) override {
    timed("embedding_backward", [&] { inner_->embedding_backward(dwte, dout, ids, N, V, C, scale); });
  }
  void embedding_forward_vocab_range(Real* out, const int32_t* ids, const Real* wte_shard, int N, int vocab_begin,
                                     int V_local, int C, Acc scale) override {
    timed("embedding_forward", [&] {
      inner_->embedding_forward_vocab_range(out, ids, wte_shard, N, vocab_begin, V_local, C, scale);
    });
  }
  void embedding_backward_vocab_range(Real* dwte_shard, const Real* dout, const int32_t* ids, int N, int vocab_begin,
                                      int V_local, int C, Acc scale) override {
    timed("embedding_backward", [&] {
      inner_->embedding_backward_vocab_range(dwte_shard, dout, ids, N, vocab_begin, V_local, C, scale);
    });
  }

  void layernorm_forward(Real* out, Acc* mean, Acc* rstd, const Real* inp, const Real* weight, const Real* bias, int N,
                         int C, Acc eps) override {
    timed("layernorm_forward", [&] { inner_->layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps); });
  }
  void layernorm_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                          const Real* weight, const Acc* mean, const Acc* rstd, int N, int C) override {
    timed("layernorm_backward",
          [&] { inner_->layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C); });
  }
  void rmsnorm_forward(Real* out, Acc* rstd, const Real* inp, const Real* weight, int N, int C, Acc eps) override {
    timed("rmsnorm_forward", [&] { inner_->rmsnorm_forward(out, rstd, inp, weight, N, C, eps); });
  }
  void rmsnorm_backward(Real* dinp, Real* dweight, const Real* dout, const Real* inp, const Real* weight,
                        const Acc* rstd, int N, int C) override {
    timed("rmsnorm_backward", [&] { inner_->rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C); });
  }

  void linear_forward(Real* out, const Real* inp, const Real* weight, const Real* bias, int N, int IC,
                      int OC) override {
    timed(gemm_label("linear_forward", N, IC, OC), [&] { inner_->linear_forward(out, inp, weight, bias, N, IC, OC); });
  }
  void linear_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp, const Real* weight,
                       int N, int IC, int OC) override {
    timed(gemm_label("linear_backward", N, IC, OC),
          [&] { inner_->linear_backward(dinp, dweight, dbias, dout, inp, weight, N, IC, OC); });
  }
  void bias_add_forward(Real* out, const Real* bias, int N, int OC) override {
    timed("bias_add_forward", [&] { inner_->bias_add_forward(out, bias, N, OC); });
  }

  void swiglu_forward(Real* out, const Real* gate, const Real* up, int64_t n) override {
    timed("swiglu_forward", [&] { inner_->swiglu_forward(out, gate, up, n); });
  }
  void swiglu_backward(Real* dgate, Real* dup, const Real* dout, const Real* gate, const Real* up,
                       int64_t n) override {
    timed("swiglu_backward", [&] { inner_->swiglu_backward(dgate, dup, dout, gate, up, n); });
  }
  void gelu_forward(Real* out, const Real* inp, int64_t n) override {
    timed("gelu_forward", [&] { inner_->gelu_forward(out, inp, n); });
  }
  void gelu_backward(Real* dinp, const Real* dout, const Real* inp, int64_t n) override {
    timed("gelu_backward", [&] { inner_->gelu_backward(dinp, dout, inp, n); });
  }

  void residual_forward(Real* out, const Real* a, const Real* b, int64_t n) override {
    timed("residual_forward", [&] { inner_->residual_forward(out, a, b, n); });
  }
  void residual_backward(Real* da, Real* db, const Real* dout, int64_t n) override {
    timed("residual_backward", [&] { inner_->residual_backward(da, db, dout, n); });
  }
  void scale_forward(Real* out, const Real* inp, Acc s, int64_t n) override {
    timed("scale_forward", [&] { inner_->scale_forward(out, inp, s, n); });
  }
  void scale_backward(Real* dinp, const Real* dout, Acc s, int64_t n) override {
    timed("scale_backward", [&] { inner_->scale_backward(dinp, dout, s, n); });
  }

  double softmax_cross_entropy(Real* dlogits, Acc* losses, const Real* logits, const int32_t* targets,
                               const Real* mask, int N, int V, Acc logit_scale, Acc dloss_scale) override {
    double r = 0;
    timed("softmax_cross_entropy", [&] {
      r = inner_->softmax_cross_entropy(dlogits, losses, logits, targets, mask, N, V, logit_scale, dloss_scale);
    });
    return r;
  }
  void vocab_parallel_ce_max(Acc* row_max, const Real* logits, const Real* mask, int N, int V_local,
                             Acc logit_scale) override {
    timed("vocab_parallel_ce_max", [&] { inner_->vocab_parallel_ce_max(row_max, logits, mask, N, V_local, logit_scale); });
  }
  void vocab_parallel_ce_sums(Acc* sums, const Real* logits, const int32_t* targets, const Real* mask,
                              const Acc* row_max, int N, int V_local, int vocab_begin, Acc logit_scale) override {
    timed("vocab_parallel_ce_sums", [&] {
      inner_->vocab_parallel_ce_sums(sums, logits, targets, mask, row_max, N, V_local, vocab_begin, logit_scale);
    });
  }
  double vocab_parallel_ce_finish(Real* dlogits, Acc* losses, const Real* logits, const int32_t* targets,
                                  const Real* mask, const Acc* row_max, const Acc* sums, int N, int V_local,
                                  int vocab_begin, Acc logit_scale, Acc dloss_scale) override {
    double r = 0;
    timed("vocab_parallel_ce_finish", [&] {
      r = inner_->vocab_parallel_ce_finish(dlogits, losses, logits, targets, mask, row_max, sums, N, V_local,
                                           vocab_begin, logit_scale, dloss_scale);
    });
    return r;
  }

  void rotary_forward(Real* out, const Real* inp, const int32_t* pos, int N, int H, int D) override {
    timed("rotary_forward", [&] { inner_->rotary_forward(out, inp, pos, N, H, D); });
  }
  void rotary_backward(Real* dinp, const Real* dout, const int32_t* pos, int N, int H, int D) override {
    timed("rotary_backward", [&] { inner_->rotary_backward(dinp, dout, pos, N, H, D); });
  }

  void attention_forward(Real* out, Acc* saved, const Real* q, const Real* k, const Real* v,
                         const AttentionArgs<Real>& args) override {
    timed("attention_forward", [&] { inner_->attention_forward(out, saved, q, k, v, args); });
  }
  void attention_backward(Real* dq, Real* dk, Real* dv, const Real* dout, const Real* q, const Real* k, const Real* v,
                          const Real* out, const Acc* saved, const AttentionArgs<Real>& args) override {
    timed("attention_backward", [&] { inner_->attention_backward(dq, dk, dv, dout, q, k, v, out, saved, args); });
  }

 private:
  template <class F>
  void timed(const std::string& label, F&& f) {
    timer_->begin();
    f();
    timer_->end(label);
  }

  static std::string gemm_label(const char* op, int N, int IC, int OC) {
    return std::string(op) + " " + std::to_string(N) + "x" + std::to_string(IC) + "->" + std::to_string(OC);
  }

  std::unique_ptr<Ops<Real>> inner_;
  std::unique_ptr<OpTimer> timer_;
};

}  // namespace kiln
