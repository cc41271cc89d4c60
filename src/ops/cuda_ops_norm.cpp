// CudaOps: LayerNorm and RMSNorm on kernels/cuda/norm.h. The backward passes' column partials
// (dweight, dbias) live in the fixed scratch pool: 64 × C floats each, 640 KiB at C = 2560.
#include <cuda_bf16.h>

#include <stdexcept>
#include <string>

#include "cuda/norm.h"
#include "ops/cuda_ops.h"

namespace kiln {
namespace {

static_assert(sizeof(bf16) == sizeof(__nv_bfloat16), "kiln::bf16 and __nv_bfloat16 are the same 16 bits");

__nv_bfloat16* dev(bf16* p) { return reinterpret_cast<__nv_bfloat16*>(p); }
const __nv_bfloat16* dev(const bf16* p) { return reinterpret_cast<const __nv_bfloat16*>(p); }

void check_shape(const char* op, int N, int C) {
  if (N < 0 || C < 0)
    throw std::invalid_argument(std::string("CudaOps::") + op + ": N = " + std::to_string(N) + ", C = " +
                                std::to_string(C) + " (both must be non-negative)");
}

void require(const void* p, const char* op, const char* name) {
  if (!p) throw std::invalid_argument(std::string("CudaOps::") + op + ": " + name + " must not be null");
}

}  // namespace

void CudaOps::layernorm_forward(bf16* out, float* mean, float* rstd, const bf16* inp, const bf16* weight,
                                const bf16* bias, int N, int C, float eps) {
  check_shape("layernorm_forward", N, C);
  cuda::layernorm_forward(dev(out), mean, rstd, dev(inp), dev(weight), dev(bias), N, C, eps, stream_);
}

void CudaOps::layernorm_backward(bf16* dinp, bf16* dweight, bf16* dbias, const bf16* dout, const bf16* inp,
                                 const bf16* weight, const float* mean, const float* rstd, int N, int C) {
  check_shape("layernorm_backward", N, C);
  if (N == 0 || C == 0) return;
  require(dinp, "layernorm_backward", "dinp");
  require(dweight, "layernorm_backward", "dweight");
  require(mean, "layernorm_backward", "mean");
  require(rstd, "layernorm_backward", "rstd");
  float* partials = scratch(cuda::norm_backward_scratch_bytes(N, C, dbias != nullptr), "layernorm_backward");
  cuda::layernorm_backward(dev(dinp), dev(dweight), dev(dbias), dev(dout), dev(inp), dev(weight), mean, rstd, N, C,
                           partials, stream_);
}

void CudaOps::rmsnorm_forward(bf16* out, float* rstd, const bf16* inp, const bf16* weight, int N, int C, float eps) {
  check_shape("rmsnorm_forward", N, C);
  cuda::rmsnorm_forward(dev(out), rstd, dev(inp), dev(weight), N, C, eps, stream_);
}

void CudaOps::rmsnorm_backward(bf16* dinp, bf16* dweight, const bf16* dout, const bf16* inp, const bf16* weight,
                               const float* rstd, int N, int C) {
  check_shape("rmsnorm_backward", N, C);
  if (N == 0 || C == 0) return;
  require(dinp, "rmsnorm_backward", "dinp");
  require(dweight, "rmsnorm_backward", "dweight");
  require(rstd, "rmsnorm_backward", "rstd");
  float* partials = scratch(cuda::norm_backward_scratch_bytes(N, C, false), "rmsnorm_backward");
  cuda::rmsnorm_backward(dev(dinp), dev(dweight), dev(dout), dev(inp), dev(weight), rstd, N, C, partials, stream_);
}

}  // namespace kiln
