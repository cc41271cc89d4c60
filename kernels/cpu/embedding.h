// Token embedding lookup (Hugging Face `model.embed_tokens`), with µP's embedding multiplier.
//
//   out[n, :] = wte[ids[n], :] · scale
//
// `scale` is µP's `mup_embeddings_scale` (14.6 for BTLM, SPEC.md §3) and 1 for the StableLM
// models. Folding it into the lookup saves a separate pass over the [N, C] activations, forward
// and backward.
//
// Layouts (row-major): ids [N] token ids, wte [V, C] (one row per vocabulary entry, as Hugging
// Face stores it), out and dout [N, C]. N = tokens (a [B, T] batch is N = B·T), C = channels.
//
// Ids must lie in [0, V): an id outside is a bug in the caller (the data loader checks tokens
// against the vocabulary when it reads them), asserted in debug builds and undefined otherwise.
//
// Gradient convention, shared by every kernel in kernels/cpu: backward functions ACCUMULATE
// (+=) into every gradient they produce, parameter and input gradients alike. Parameter gradients
// must accumulate anyway (gradient accumulation over micro batches), and accumulating into input
// gradients lets a residual branch add its gradient straight into the residual stream's. The
// caller zeroes a gradient buffer before its first contribution. Gradient outputs must not alias
// any input of the same call.
#pragma once

#include <cstdint>

namespace kiln::cpu {

// out[n, :] = wte[ids[n], :] · scale. OVERWRITES out, which must not alias wte.
template <typename Real>
void embedding_forward(Real* out, const int32_t* ids, const Real* wte, int N, int V, int C,
                       Real scale);

// dwte[ids[n], :] += dout[n, :] · scale for every n. ACCUMULATES into dwte. Rows of tokens that
// do not occur in ids are left untouched. A token that occurs several times receives the sum of
// its contributions, added in token order (n ascending) whatever the number of threads, so the
// result is bitwise reproducible.
template <typename Real>
void embedding_backward(Real* dwte, const Real* dout, const int32_t* ids, int N, int V, int C,
                        Real scale);

// Vocab-parallel forms (Megatron's VocabParallelEmbedding): this rank holds rows
// [vocab_begin, vocab_begin + V_local) of the [V, C] table as wte_shard [V_local, C]. Token ids
// may be anything in [0, V); an id outside this rank's range gives a zero row, so that summing
// the ranks' outputs (an all-reduce the caller does) gives the full lookup. With vocab_begin = 0
// and V_local = V these are exactly embedding_forward/backward.
//
// out[n, :] = wte_shard[ids[n] − vocab_begin, :] · scale, or 0 outside the range. OVERWRITES out.
template <typename Real>
void embedding_forward_vocab_range(Real* out, const int32_t* ids, const Real* wte_shard, int N, int vocab_begin,
                                   int V_local, int C, Real scale);

// dwte_shard[ids[n] − vocab_begin, :] += dout[n, :] · scale for the ids inside the range, in token
// order (bitwise reproducible, as embedding_backward). ACCUMULATES.
template <typename Real>
void embedding_backward_vocab_range(Real* dwte_shard, const Real* dout, const int32_t* ids, int N, int vocab_begin,
                                    int V_local, int C, Real scale);

}  // namespace kiln::cpu
