// CudaOps: buffer fills, the MLP nonlinearities, residual, scale and the row-parallel bias add,
// on the kernels of kernels/cuda/elementwise.h.
#include <cuda_bf16.h>

#include <stdexcept>
#include <string>

#include "cuda/elementwise.h"
#include "ops/cuda_ops.h"

namespace kiln {
namespace {

static_assert(sizeof(bf16) == sizeof(__nv_bfloat16), "kiln::bf16 and __nv_bfloat16 are the same 16 bits");

__nv_bfloat16* dev(bf16* p) { return reinterpret_cast<__nv_bfloat16*>(p); }
const __nv_bfloat16* dev(const bf16* p) { return reinterpret_cast<const __nv_bfloat16*>(p); }

void check_count(const char* op, const char* name, int64_t value) {
  if (value < 0)
    throw std::invalid_argument(std::string("CudaOps::") + op + ": " + name + " = " + std::to_string(value) +
                                " is negative");
}

}  // namespace

void CudaOps::fill(bf16* out, float value, int64_t n) {
  check_count("fill", "n", n);
  cuda::fill(dev(out), value, n, stream_);
}

void CudaOps::convert(bf16* out, const float* inp, int64_t n) {
  check_count("convert", "n", n);
  cuda::convert_to_bf16(dev(out), inp, n, stream_);
}

void CudaOps::fill_positions(int32_t* pos, int B, int T) {
  check_count("fill_positions", "B", B);
  check_count("fill_positions", "T", T);
  cuda::fill_positions(pos, B, T, stream_);
}

void CudaOps::swiglu_forward(bf16* out, const bf16* gate, const bf16* up, int64_t n) {
  check_count("swiglu_forward", "n", n);
  cuda::swiglu_forward(dev(out), dev(gate), dev(up), n, stream_);
}

void CudaOps::swiglu_backward(bf16* dgate, bf16* dup, const bf16* dout, const bf16* gate, const bf16* up,
                              int64_t n) {
  check_count("swiglu_backward", "n", n);
  cuda::swiglu_backward(dev(dgate), dev(dup), dev(dout), dev(gate), dev(up), n, stream_);
}

void CudaOps::gelu_forward(bf16* out, const bf16* inp, int64_t n) {
  check_count("gelu_forward", "n", n);
  cuda::gelu_forward(dev(out), dev(inp), n, stream_);
}

void CudaOps::gelu_backward(bf16* dinp, const bf16* dout, const bf16* inp, int64_t n) {
  check_count("gelu_backward", "n", n);
  cuda::gelu_backward(dev(dinp), dev(dout), dev(inp), n, stream_);
}

void CudaOps::residual_forward(bf16* out, const bf16* a, const bf16* b, int64_t n) {
  check_count("residual_forward", "n", n);
  cuda::residual_forward(dev(out), dev(a), dev(b), n, stream_);
}

void CudaOps::residual_backward(bf16* da, bf16* db, const bf16* dout, int64_t n) {
  check_count("residual_backward", "n", n);
  if (da && da == db) {
    // The same gradient twice, as the CPU reference's two += give: one pass adding 2·dout.
    cuda::scale_backward(dev(da), dev(dout), 2.0f, n, stream_);
    return;
  }
  cuda::residual_backward(dev(da), dev(db), dev(dout), n, stream_);
}

void CudaOps::scale_forward(bf16* out, const bf16* inp, float s, int64_t n) {
  check_count("scale_forward", "n", n);
  cuda::scale_forward(dev(out), dev(inp), s, n, stream_);
}

void CudaOps::scale_backward(bf16* dinp, const bf16* dout, float s, int64_t n) {
  check_count("scale_backward", "n", n);
  cuda::scale_backward(dev(dinp), dev(dout), s, n, stream_);
}

void CudaOps::bias_add_forward(bf16* out, const bf16* bias, int N, int OC) {
  check_count("bias_add_forward", "N", N);
  check_count("bias_add_forward", "OC", OC);
  cuda::bias_add_forward(dev(out), dev(bias), N, OC, stream_);
}

}  // namespace kiln
