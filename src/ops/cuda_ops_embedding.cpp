// CudaOps: the token embedding and its vocab-parallel form, on kernels/cuda/embedding.h. The
// whole-table methods are the vocab-range ones with vocab_begin = 0 and V_local = V.
#include <cuda_bf16.h>

#include <stdexcept>
#include <string>

#include "cuda/embedding.h"
#include "ops/cuda_ops.h"

namespace kiln {
namespace {

static_assert(sizeof(bf16) == sizeof(__nv_bfloat16), "kiln::bf16 and __nv_bfloat16 are the same 16 bits");

__nv_bfloat16* dev(bf16* p) { return reinterpret_cast<__nv_bfloat16*>(p); }
const __nv_bfloat16* dev(const bf16* p) { return reinterpret_cast<const __nv_bfloat16*>(p); }

void check_shape(const char* op, int N, int V, int C) {
  const auto bad = [&](const char* name, int value) {
    throw std::invalid_argument(std::string("CudaOps::") + op + ": " + name + " = " + std::to_string(value) +
                                " is negative");
  };
  if (N < 0) bad("N", N);
  if (V < 0) bad("V", V);
  if (C < 0) bad("C", C);
}

}  // namespace

void CudaOps::embedding_forward(bf16* out, const int32_t* ids, const bf16* wte, int N, int V, int C, float scale) {
  check_shape("embedding_forward", N, V, C);
  cuda::embedding_forward(dev(out), ids, dev(wte), N, 0, V, C, scale, stream_);
}

void CudaOps::embedding_forward_vocab_range(bf16* out, const int32_t* ids, const bf16* wte_shard, int N,
                                            int vocab_begin, int V_local, int C, float scale) {
  check_shape("embedding_forward_vocab_range", N, V_local, C);
  cuda::embedding_forward(dev(out), ids, dev(wte_shard), N, vocab_begin, V_local, C, scale, stream_);
}

void CudaOps::embedding_backward(bf16* dwte, const bf16* dout, const int32_t* ids, int N, int V, int C,
                                 float scale) {
  embedding_backward_vocab_range(dwte, dout, ids, N, 0, V, C, scale);
}

void CudaOps::embedding_backward_vocab_range(bf16* dwte_shard, const bf16* dout, const int32_t* ids, int N,
                                             int vocab_begin, int V_local, int C, float scale) {
  check_shape("embedding_backward", N, V_local, C);
  if (N == 0 || V_local == 0 || C == 0) return;
  // The sort's keys, token indices and CUB's temporary storage, from the fixed pool: 16 bytes per
  // token plus CUB's share, about 1 MiB for a 32k-token micro batch.
  const size_t bytes = cuda::embedding_backward_scratch_bytes(N, V_local);
  void* work = scratch(bytes, "embedding_backward");
  cuda::embedding_backward(dev(dwte_shard), dev(dout), ids, N, vocab_begin, V_local, C, scale, work, bytes, stream_);
}

}  // namespace kiln
