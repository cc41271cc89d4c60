// CudaOps: the linear layer (cpu/linear.h) on cuBLASLt (cuda/gemm.h), with the bias gradient as a
// deterministic column sum (cuda/bias_grad.h).
#include <cuda_bf16.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "cuda/bias_grad.h"
#include "cuda/gemm.h"
#include "ops/cuda_ops.h"

namespace kiln {
namespace {

__nv_bfloat16* dev(bf16* p) { return reinterpret_cast<__nv_bfloat16*>(p); }
const __nv_bfloat16* dev(const bf16* p) { return reinterpret_cast<const __nv_bfloat16*>(p); }

void check_shape(const char* op, int N, int IC, int OC) {
  if (N < 0 || IC < 0 || OC < 0)
    throw std::invalid_argument(std::string("CudaOps::") + op + ": negative shape N = " + std::to_string(N) +
                                ", IC = " + std::to_string(IC) + ", OC = " + std::to_string(OC));
}

}  // namespace

void CudaOps::linear_forward(bf16* out, const bf16* inp, const bf16* weight, const bf16* bias, int N, int IC,
                             int OC) {
  check_shape("linear_forward", N, IC, OC);
  if (N == 0 || OC == 0) return;
  // K = 0: the product is empty and out is the bias alone (cpu/linear.h does the same); cuBLASLt
  // is not asked about a GEMM with no reduction.
  if (IC == 0) {
    cuda::bias_broadcast_rows(dev(out), dev(bias), N, OC, stream_);
    return;
  }
  if (!gemm_) gemm_ = std::make_unique<cuda::GemmCache>(lt_, lt_workspace_, lt_workspace_bytes_);
  gemm_->linear_forward(dev(out), dev(inp), dev(weight), dev(bias), N, IC, OC, stream_);
}

void CudaOps::linear_backward(bf16* dinp, bf16* dweight, bf16* dbias, const bf16* dout, const bf16* inp,
                              const bf16* weight, int N, int IC, int OC) {
  check_shape("linear_backward", N, IC, OC);
  if (N == 0 || OC == 0) return;
  if (IC > 0 && (dinp || dweight)) {
    if (!gemm_) gemm_ = std::make_unique<cuda::GemmCache>(lt_, lt_workspace_, lt_workspace_bytes_);
    if (dinp) gemm_->linear_backward_input(dev(dinp), dev(dout), dev(weight), N, IC, OC, stream_);
    if (dweight) gemm_->linear_backward_weight(dev(dweight), dev(dout), dev(inp), N, IC, OC, stream_);
  }
  if (dbias) {
    float* partials = scratch(cuda::bias_grad_scratch_bytes(N, OC), "linear_backward (bias gradient)");
    cuda::bias_grad_accumulate(dev(dbias), dev(dout), N, OC, partials, stream_);
  }
}

}  // namespace kiln
