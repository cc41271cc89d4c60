// CpuOps: the Ops interface (ops.h) on the CPU reference kernels of kernels/cpu.
//
// Each method forwards to the kernel of the same name, unchanged, so a model run through CpuOps
// computes bit for bit what it computed calling the kernels directly. The backend state is a
// rotary table (cpu::RotaryTable, built by prepare_rotary) and the ALiBi slopes (prepare_alibi).
// Pointers are plain host pointers; device() is DeviceKind::cpu.
//
// This header deliberately includes no kernel header: the model builds a CpuOps without seeing
// kernels/cpu.
#pragma once

#include <memory>
#include <vector>

#include "ops/ops.h"

namespace kiln {

namespace cpu {
template <typename Real>
struct RotaryTable;
}  // namespace cpu

template <class Real>
class CpuOps final : public Ops<Real> {
 public:
  CpuOps();
  ~CpuOps() override;
  CpuOps(const CpuOps&) = delete;
  CpuOps& operator=(const CpuOps&) = delete;

  DeviceKind device() const override { return DeviceKind::cpu; }

  void* allocate(size_t bytes) override;
  void copy_from_host(void* dst, const void* host_src, size_t bytes) override;
  void copy_to_host(void* host_dst, const void* src, size_t bytes) override;
  void synchronize() override {}
  int64_t attention_saved_elements(int B, int H, int T) const override {
    return static_cast<int64_t>(B) * H * T * T;
  }

  void prepare_rotary(int rotary_dims, int max_positions, double theta) override;
  const Real* prepare_alibi(int n_heads, int head_begin, int head_count) override;

  void fill(Real* out, Real value, int64_t n) override;
  void convert(Real* out, const float* inp, int64_t n) override;
  void fill_positions(int32_t* pos, int B, int T) override;

  void embedding_forward(Real* out, const int32_t* ids, const Real* wte, int N, int V, int C, Real scale) override;
  void embedding_backward(Real* dwte, const Real* dout, const int32_t* ids, int N, int V, int C,
                          Real scale) override;
  void embedding_forward_vocab_range(Real* out, const int32_t* ids, const Real* wte_shard, int N, int vocab_begin,
                                     int V_local, int C, Real scale) override;
  void embedding_backward_vocab_range(Real* dwte_shard, const Real* dout, const int32_t* ids, int N,
                                      int vocab_begin, int V_local, int C, Real scale) override;

  void layernorm_forward(Real* out, Real* mean, Real* rstd, const Real* inp, const Real* weight, const Real* bias,
                         int N, int C, Real eps) override;
  void layernorm_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                          const Real* weight, const Real* mean, const Real* rstd, int N, int C) override;
  void rmsnorm_forward(Real* out, Real* rstd, const Real* inp, const Real* weight, int N, int C,
                       Real eps) override;
  void rmsnorm_backward(Real* dinp, Real* dweight, const Real* dout, const Real* inp, const Real* weight,
                        const Real* rstd, int N, int C) override;

  void linear_forward(Real* out, const Real* inp, const Real* weight, const Real* bias, int N, int IC,
                      int OC) override;
  void linear_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                       const Real* weight, int N, int IC, int OC) override;
  void bias_add_forward(Real* out, const Real* bias, int N, int OC) override;

  void swiglu_forward(Real* out, const Real* gate, const Real* up, int64_t n) override;
  void swiglu_backward(Real* dgate, Real* dup, const Real* dout, const Real* gate, const Real* up,
                       int64_t n) override;
  void gelu_forward(Real* out, const Real* inp, int64_t n) override;
  void gelu_backward(Real* dinp, const Real* dout, const Real* inp, int64_t n) override;

  void residual_forward(Real* out, const Real* a, const Real* b, int64_t n) override;
  void residual_backward(Real* da, Real* db, const Real* dout, int64_t n) override;
  void scale_forward(Real* out, const Real* inp, Real s, int64_t n) override;
  void scale_backward(Real* dinp, const Real* dout, Real s, int64_t n) override;

  double softmax_cross_entropy(Real* dlogits, Real* losses, const Real* logits, const int32_t* targets,
                               const Real* mask, int N, int V, Real logit_scale, Real dloss_scale) override;

  void vocab_parallel_ce_max(Real* row_max, const Real* logits, const Real* mask, int N, int V_local,
                             Real logit_scale) override;
  void vocab_parallel_ce_sums(Real* sums, const Real* logits, const int32_t* targets, const Real* mask,
                              const Real* row_max, int N, int V_local, int vocab_begin, Real logit_scale) override;
  double vocab_parallel_ce_finish(Real* dlogits, Real* losses, const Real* logits, const int32_t* targets,
                                  const Real* mask, const Real* row_max, const Real* sums, int N, int V_local,
                                  int vocab_begin, Real logit_scale, Real dloss_scale) override;

  void rotary_forward(Real* out, const Real* inp, const int32_t* pos, int N, int H, int D) override;
  void rotary_backward(Real* dinp, const Real* dout, const int32_t* pos, int N, int H, int D) override;

  void attention_forward(Real* out, Real* probs, const Real* q, const Real* k, const Real* v,
                         const AttentionArgs<Real>& args) override;
  void attention_backward(Real* dq, Real* dk, Real* dv, const Real* dout, const Real* q, const Real* k,
                          const Real* v, const Real* out, const Real* probs, const AttentionArgs<Real>& args) override;

 private:
  const cpu::RotaryTable<Real>& rotary_table() const;

  std::unique_ptr<cpu::RotaryTable<Real>> rotary_;
  std::vector<Real> alibi_slopes_;
  std::vector<Buffer> allocations_;  // allocate()'s memory, freed with this object
};

extern template class CpuOps<float>;
extern template class CpuOps<double>;

}  // namespace kiln
