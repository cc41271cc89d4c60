// CudaOps: the Ops interface (ops.h) on one NVIDIA GPU, bf16 storage and fp32 math.
//
// Real is kiln::bf16 (the same bits as CUDA's __nv_bfloat16); Acc is float: norm statistics,
// attention's saved log-sum-exp, per-token losses, the cross-entropy's row statistics, ALiBi slopes
// and every scalar stay fp32. Every method is asynchronous on this object's stream except the
// ones that return a host value (the cross-entropy's loss sums, copy_to_host) and synchronize().
// The kernels live in kernels/cuda (one header per family); GEMMs go through cuBLASLt.
//
// What differs from CpuOps, by design (docs/cuda-backend.md):
//   - attention is fused (flash-attention style): the forward saves the log-sum-exp of each row
//     [B, H, T] instead of the probabilities, and the S×S matrix is never stored;
//   - results are rounded to bf16 once per stored tensor, so they match the fp32 CPU reference
//     within bf16 tolerance, not bit for bit. They are deterministic: no floating-point atomics.
//
// Memory: everything is allocated at construction, in prepare_* (start-up) or through allocate();
// no method called per step allocates. Thread-compatible like every Ops: one user at a time.
//
// Only in builds with the CUDA backend (KILN_WITH_CUDA). Construction throws std::runtime_error
// when no GPU can be used, with the CUDA runtime's reason.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "cuda/gemm.h"
#include "ops/ops.h"

namespace kiln {

class CudaOps final : public Ops<bf16> {
 public:
  // Runs on the calling thread's current device, on a new non-blocking stream.
  CudaOps();
  ~CudaOps() override;
  CudaOps(const CudaOps&) = delete;
  CudaOps& operator=(const CudaOps&) = delete;

  DeviceKind device() const override { return DeviceKind::cuda; }
  // The stream every op runs on: communicators and copies that must order with the ops use it.
  cudaStream_t stream() const { return stream_; }

  void* allocate(size_t bytes) override;
  void copy_from_host(void* dst, const void* host_src, size_t bytes) override;
  void copy_to_host(void* host_dst, const void* src, size_t bytes) override;
  void synchronize() override;
  int64_t attention_saved_elements(int B, int H, int T) const override {
    return static_cast<int64_t>(B) * H * T;  // the log-sum-exp of each query row
  }

  void prepare_rotary(int rotary_dims, int max_positions, double theta) override;
  const float* prepare_alibi(int n_heads, int head_begin, int head_count) override;

  void fill(bf16* out, float value, int64_t n) override;
  void convert(bf16* out, const float* inp, int64_t n) override;
  void fill_positions(int32_t* pos, int B, int T) override;

  void embedding_forward(bf16* out, const int32_t* ids, const bf16* wte, int N, int V, int C, float scale) override;
  void embedding_backward(bf16* dwte, const bf16* dout, const int32_t* ids, int N, int V, int C,
                          float scale) override;
  void embedding_forward_vocab_range(bf16* out, const int32_t* ids, const bf16* wte_shard, int N, int vocab_begin,
                                     int V_local, int C, float scale) override;
  void embedding_backward_vocab_range(bf16* dwte_shard, const bf16* dout, const int32_t* ids, int N,
                                      int vocab_begin, int V_local, int C, float scale) override;

  void layernorm_forward(bf16* out, float* mean, float* rstd, const bf16* inp, const bf16* weight, const bf16* bias,
                         int N, int C, float eps) override;
  void layernorm_backward(bf16* dinp, bf16* dweight, bf16* dbias, const bf16* dout, const bf16* inp,
                          const bf16* weight, const float* mean, const float* rstd, int N, int C) override;
  void rmsnorm_forward(bf16* out, float* rstd, const bf16* inp, const bf16* weight, int N, int C,
                       float eps) override;
  void rmsnorm_backward(bf16* dinp, bf16* dweight, const bf16* dout, const bf16* inp, const bf16* weight,
                        const float* rstd, int N, int C) override;

  void linear_forward(bf16* out, const bf16* inp, const bf16* weight, const bf16* bias, int N, int IC,
                      int OC) override;
  void linear_backward(bf16* dinp, bf16* dweight, bf16* dbias, const bf16* dout, const bf16* inp,
                       const bf16* weight, int N, int IC, int OC) override;
  void bias_add_forward(bf16* out, const bf16* bias, int N, int OC) override;

  void swiglu_forward(bf16* out, const bf16* gate, const bf16* up, int64_t n) override;
  void swiglu_backward(bf16* dgate, bf16* dup, const bf16* dout, const bf16* gate, const bf16* up,
                       int64_t n) override;
  void gelu_forward(bf16* out, const bf16* inp, int64_t n) override;
  void gelu_backward(bf16* dinp, const bf16* dout, const bf16* inp, int64_t n) override;

  void residual_forward(bf16* out, const bf16* a, const bf16* b, int64_t n) override;
  void residual_backward(bf16* da, bf16* db, const bf16* dout, int64_t n) override;
  void scale_forward(bf16* out, const bf16* inp, float s, int64_t n) override;
  void scale_backward(bf16* dinp, const bf16* dout, float s, int64_t n) override;

  double softmax_cross_entropy(bf16* dlogits, float* losses, const bf16* logits, const int32_t* targets,
                               const bf16* mask, int N, int V, float logit_scale, float dloss_scale) override;
  void vocab_parallel_ce_max(float* row_max, const bf16* logits, const bf16* mask, int N, int V_local,
                             float logit_scale) override;
  void vocab_parallel_ce_sums(float* sums, const bf16* logits, const int32_t* targets, const bf16* mask,
                              const float* row_max, int N, int V_local, int vocab_begin, float logit_scale) override;
  double vocab_parallel_ce_finish(bf16* dlogits, float* losses, const bf16* logits, const int32_t* targets,
                                  const bf16* mask, const float* row_max, const float* sums, int N, int V_local,
                                  int vocab_begin, float logit_scale, float dloss_scale) override;

  void rotary_forward(bf16* out, const bf16* inp, const int32_t* pos, int N, int H, int D) override;
  void rotary_backward(bf16* dinp, const bf16* dout, const int32_t* pos, int N, int H, int D) override;

  void attention_forward(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                         const AttentionArgs<bf16>& args) override;
  void attention_backward(bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const bf16* q, const bf16* k,
                          const bf16* v, const bf16* out, const float* lse, const AttentionArgs<bf16>& args) override;

  // Row groups of the two-pass column reductions (bias and norm-weight gradients): each writes
  // kReduceRows partial rows into the fixed scratch, then one pass adds them in order.
  static constexpr int kReduceRows = 64;

 private:
  // Device memory that lives as long as this object (freed in the destructor).
  void* device_alloc(size_t bytes);
  // The Σ of n device floats, in double, in a fixed order, returned to the host (synchronises).
  double sum_to_host(const float* values, int n);
  // Scratch of at least `bytes`, from the fixed pool (throws if the pool is too small: a model too
  // large for the pool sized at construction, which names the op).
  float* scratch(size_t bytes, const char* op);

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  void* lt_workspace_ = nullptr;
  size_t lt_workspace_bytes_ = 0;
  std::vector<void*> allocations_;
  // cuBLASLt descriptors and chosen algorithms per GEMM shape, made on first use (host-side).
  std::unique_ptr<cuda::GemmCache> gemm_;

  // prepare_rotary: cos/sin [max_positions, rotary_dims / 2], fp32.
  float* rotary_cos_ = nullptr;
  float* rotary_sin_ = nullptr;
  int rotary_dims_ = 0, rotary_positions_ = 0;
  // prepare_alibi: this rank's slopes, fp32.
  float* alibi_ = nullptr;

  // Fixed scratch: column-reduction partials and loss partial sums (fp32/double), and a pinned
  // host double for results returned to the host.
  float* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  double* sum_device_ = nullptr;
  double* sum_host_ = nullptr;  // pinned
};

}  // namespace kiln
