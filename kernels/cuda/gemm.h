// The linear layer's three GEMMs on cuBLASLt, bf16 in and out, fp32 accumulation.
//
// Layouts are cpu/linear.h's, all row-major: inp, dinp [N, IC]; out, dout [N, OC]; weight,
// dweight [OC, IC]; bias [OC]. cuBLASLt is column-major, and a row-major [R, C] matrix is the
// column-major [C, R] matrix with leading dimension C, so each product is computed transposed
// without moving any data:
//
//   forward         out = inp·Wᵀ + b     ⇔  outᶜ[OC, N]  = Wᶜᵀ · inpᶜ      (TN, bias epilogue)
//   input gradient  dinp += dout·W       ⇔  dinpᶜ[IC, N] = Wᶜ · doutᶜ      (NN, beta = 1)
//   weight gradient dW += doutᵀ·inp      ⇔  dWᶜ[IC, OC]  = inpᶜ · doutᶜᵀ   (NT, beta = 1)
//
// where Xᶜ is the column-major reading of the row-major X. Every product accumulates in fp32
// (CUBLAS_COMPUTE_32F, fp32 alpha/beta); the accumulating forms read the old bf16 value as C and
// write the rounded fp32 sum C + A·B back in place (C = D), so each output is rounded to bf16 once.
// Split-K algorithms are restricted to the one that reduces its partial sums in fp32 in the
// workspace: the in-place and output-type schemes would round partial sums to bf16.
//
// Determinism: cuBLASLt gives the same bits for the same algorithm, shapes and device on every
// run; the algorithm of each shape is chosen once and kept (see GemmCache), so a step loop always
// runs the same kernels.
//
// Plain C++17, host only: compiled by the host compiler, no kernels of its own.
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

namespace kiln::cuda {

// The plans (descriptors, layouts and the heuristic's algorithm) of every GEMM shape seen so far,
// built on first use and kept for the object's lifetime: the step loop repeats a handful of
// shapes, and asking the heuristic on every call costs more host time than a small GEMM takes.
// Host-side bookkeeping only; it allocates no device memory (the workspace is the caller's).
//
// A plan depends on the shape, the op and on the alignment of each pointer (cuBLASLt picks
// kernels that assume the alignments it was told about), so pointers of a new alignment class
// get their own plan. Not thread-safe, like the CudaOps that owns it. Every failure throws
// std::runtime_error naming the op, the shape and cuBLASLt's status.
class GemmCache {
 public:
  // `workspace` (device memory of `workspace_bytes`) is shared by every GEMM, which is safe
  // because they all run on the one stream passed to each call below.
  GemmCache(cublasLtHandle_t lt, void* workspace, size_t workspace_bytes);
  ~GemmCache();
  GemmCache(const GemmCache&) = delete;
  GemmCache& operator=(const GemmCache&) = delete;

  // out[N, OC] = inp[N, IC] · weight[OC, IC]ᵀ + bias[OC] (bias may be null). OVERWRITES out,
  // which must not alias inp or weight. Needs N, IC, OC > 0 (the caller handles empty shapes).
  void linear_forward(__nv_bfloat16* out, const __nv_bfloat16* inp, const __nv_bfloat16* weight,
                      const __nv_bfloat16* bias, int N, int IC, int OC, cudaStream_t stream);
  // dinp[N, IC] += dout[N, OC] · weight[OC, IC]. dinp must not alias the inputs.
  void linear_backward_input(__nv_bfloat16* dinp, const __nv_bfloat16* dout, const __nv_bfloat16* weight, int N,
                             int IC, int OC, cudaStream_t stream);
  // dweight[OC, IC] += dout[N, OC]ᵀ · inp[N, IC]. dweight must not alias the inputs.
  void linear_backward_weight(__nv_bfloat16* dweight, const __nv_bfloat16* dout, const __nv_bfloat16* inp, int N,
                              int IC, int OC, cudaStream_t stream);

  // Number of plans built so far (for tests and diagnostics).
  size_t plans() const { return plans_.size(); }

 private:
  enum class Kind : int { forward = 0, backward_input = 1, backward_weight = 2 };
  // (kind, N, IC, OC, has bias, alignment of A, B, C/D and bias in bytes)
  using Key = std::tuple<int, int, int, int, bool, uint32_t, uint32_t, uint32_t, uint32_t>;
  struct Plan;

  // The cached plan for `key`, built (heuristic query included) on first use.
  Plan& plan(const Key& key, const void* bias);
  void run(Kind kind, void* d, const void* a, const void* b, const void* bias, int N, int IC, int OC,
           cudaStream_t stream);

  cublasLtHandle_t lt_;
  void* workspace_;
  size_t workspace_bytes_;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace kiln::cuda
