// CudaOps: fused attention (kernels/cuda/attention.h; docs/cuda-attention.md). What the forward
// saves for the backward is the fp32 log-sum-exp of each query row, [B, H, T]
// (attention_saved_elements); the probabilities are recomputed from it.
#include <cuda_bf16.h>

#include <stdexcept>
#include <string>

#include "cuda/attention.h"
#include "ops/cuda_ops.h"

namespace kiln {
namespace {

const __nv_bfloat16* dev(const bf16* p) { return reinterpret_cast<const __nv_bfloat16*>(p); }
__nv_bfloat16* dev(bf16* p) { return reinterpret_cast<__nv_bfloat16*>(p); }

// Host-side checks, so that a bad call names the CudaOps method (the launchers check the same
// and more, naming themselves).
cuda::AttentionShape shape_of(const AttentionArgs<bf16>& a, const char* op) {
  if (!cuda::attention_head_dim_supported(a.D))
    throw std::invalid_argument(std::string("CudaOps::") + op + ": head dim D = " + std::to_string(a.D) +
                                " is not supported (16, 32, 64, 80, 96 or 128)");
  if (a.B < 0 || a.T < 0 || a.H < 0)
    throw std::invalid_argument(std::string("CudaOps::") + op + ": negative shape B = " + std::to_string(a.B) +
                                ", T = " + std::to_string(a.T) + ", H = " + std::to_string(a.H));
  return cuda::AttentionShape{a.B, a.T, a.H, a.D, a.scale, a.alibi_slopes, a.doc_ids};
}

}  // namespace

void CudaOps::attention_forward(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                                const AttentionArgs<bf16>& args) {
  const cuda::AttentionShape shape = shape_of(args, "attention_forward");
  cuda::attention_forward(dev(out), lse, dev(q), dev(k), dev(v), shape, stream_);
}

void CudaOps::attention_backward(bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const bf16* q, const bf16* k,
                                 const bf16* v, const bf16* out, const float* lse, const AttentionArgs<bf16>& args) {
  const cuda::AttentionShape shape = shape_of(args, "attention_backward");
  cuda::attention_backward(dev(dq), dev(dk), dev(dv), dev(dout), dev(q), dev(k), dev(v), dev(out), lse, shape,
                           stream_);
}

}  // namespace kiln
