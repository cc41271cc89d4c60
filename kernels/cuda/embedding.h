// Token embedding lookup and its gradient on the GPU (cpu/embedding.h states the math).
//
// Both take the vocab-parallel form: the table holds rows [vocab_begin, vocab_begin + V_local) of
// the [V, C] vocabulary; the whole table is vocab_begin = 0, V_local = V.
//
//   forward:   out[n, :] = wte[ids[n] − vocab_begin, :]·scale, or a zero row when the id is
//              outside the table's range. OVERWRITES out [N, C], which must not alias wte. (For the
//              whole table an id outside [0, V) is a caller bug; it gets a zero row here rather
//              than an out-of-bounds read.)
//   backward:  dwte[ids[n] − vocab_begin, :] += dout[n, :]·scale for every n whose id is inside the
//              range. ACCUMULATES into dwte [V_local, C]; rows no id hits are not touched.
//
// The backward is deterministic without atomics: the (id, n) pairs are sorted by id with CUB's
// stable radix sort, so each id's tokens end up consecutive and in increasing n; then one thread
// block per (id, 256 channels) sums that id's dout rows in that order in fp32 and adds the sum to
// the bf16 table row once. Same bits on every run, and each table element is rounded once.
// The sort needs scratch (embedding_backward_scratch_bytes), which the caller provides: no
// allocation happens here.
//
// Layouts row-major; ids [N] int32. Launchers are asynchronous on `stream`.
// Plain C++17, host only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace kiln::cuda {

using bf16_t = __nv_bfloat16;

void embedding_forward(bf16_t* out, const int32_t* ids, const bf16_t* wte, int N, int vocab_begin, int V_local,
                       int C, float scale, cudaStream_t stream);

// Bytes of device scratch embedding_backward needs for N tokens and a V_local-row table (the sort's
// keys and values twice, and CUB's own temporary storage).
size_t embedding_backward_scratch_bytes(int N, int V_local);

// scratch: at least embedding_backward_scratch_bytes(N, V_local) bytes, 256-byte aligned, not in
// use by anything else until this call's work on `stream` is done.
void embedding_backward(bf16_t* dwte, const bf16_t* dout, const int32_t* ids, int N, int vocab_begin, int V_local,
                        int C, float scale, void* scratch, size_t scratch_bytes, cudaStream_t stream);

}  // namespace kiln::cuda
