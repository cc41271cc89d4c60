// CudaOps: rotary position embedding on kernels/cuda/rotary.h, with the tables prepare_rotary
// uploaded (cuda_ops_core.cpp).
#include <cuda_bf16.h>

#include <stdexcept>
#include <string>

#include "cuda/rotary.h"
#include "ops/cuda_ops.h"

namespace kiln {
namespace {

static_assert(sizeof(bf16) == sizeof(__nv_bfloat16), "kiln::bf16 and __nv_bfloat16 are the same 16 bits");

__nv_bfloat16* dev(bf16* p) { return reinterpret_cast<__nv_bfloat16*>(p); }
const __nv_bfloat16* dev(const bf16* p) { return reinterpret_cast<const __nv_bfloat16*>(p); }

void check_rotary_call(const char* op, bool prepared, int rotary_dims, int N, int H, int D) {
  if (!prepared) throw std::logic_error(std::string("CudaOps::") + op + " called before prepare_rotary");
  if (N < 0 || H < 0 || D < 0)
    throw std::invalid_argument(std::string("CudaOps::") + op + ": N = " + std::to_string(N) + ", H = " +
                                std::to_string(H) + ", D = " + std::to_string(D) + " (all must be non-negative)");
  if (D > 0 && rotary_dims > D)
    throw std::invalid_argument(std::string("CudaOps::") + op + ": the table rotates " + std::to_string(rotary_dims) +
                                " dimensions, more than the head dimension D = " + std::to_string(D));
}

}  // namespace

void CudaOps::rotary_forward(bf16* out, const bf16* inp, const int32_t* pos, int N, int H, int D) {
  check_rotary_call("rotary_forward", rotary_cos_ != nullptr, rotary_dims_, N, H, D);
  cuda::rotary_forward(dev(out), dev(inp), pos, rotary_cos_, rotary_sin_, rotary_positions_, rotary_dims_, N, H, D,
                       stream_);
}

void CudaOps::rotary_backward(bf16* dinp, const bf16* dout, const int32_t* pos, int N, int H, int D) {
  check_rotary_call("rotary_backward", rotary_cos_ != nullptr, rotary_dims_, N, H, D);
  if (dinp == dout && N > 0 && H > 0 && D > 0)
    throw std::invalid_argument("CudaOps::rotary_backward: dinp must not alias dout");
  cuda::rotary_backward(dev(dinp), dev(dout), pos, rotary_cos_, rotary_sin_, rotary_positions_, rotary_dims_, N, H,
                        D, stream_);
}

}  // namespace kiln
