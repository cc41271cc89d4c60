// Communication volume of one optimizer step, per rank, computed from the config alone: what the
// data-parallel gradient reduction and parameter gather move, and what the tensor-parallel
// all-reduces move. Bytes only; how long they take depends on the fabric (docs/parallelism.md).
//
// Every collective is costed as NCCL's ring algorithm, in bytes each rank sends (it receives the
// same amount). A group of g ranks splits a buffer of n elements into g chunks of c = ceil(n / g)
// elements (the buffer padded to a multiple of g, as kiln pads its flat gradient buffer):
//   reduce-scatter, all-gather: (g − 1) · c · bytes per element      ≈ (g − 1)/g · buffer bytes
//   all-reduce:             2 · (g − 1) · c · bytes per element      ≈ 2 (g − 1)/g · buffer bytes
// (an all-reduce is a reduce-scatter followed by an all-gather). A group of one moves nothing.
//
// Data parallel, once per step, over the dp ranks that share a tensor-parallel rank; P = the
// rank's TP-local parameter count (params_per_rank), G = parallel.grad_reduce_dtype bytes,
// W = train.precision bytes (the weights' dtype):
//   ZeRO-1: reduce-scatter of the gradient buffer, (dp − 1) · ceil(P/dp) · G, then all-gather of
//           the updated weights, (dp − 1) · ceil(P/dp) · W.
//   ZeRO-0: all-reduce of the gradient buffer, 2 · (dp − 1) · ceil(P/dp) · G; every rank then
//           updates all P parameters itself, so there is nothing to gather.
//
// Tensor parallel, per micro batch, over the tp ranks of a node; A = one [b, s, h] activation
// (micro_batch · seq_length · hidden) in the activation dtype (W bytes), AR(x) = ring all-reduce:
//   per layer: forward 2 · AR(A)  (after attention-out and after MLP down: row-parallel outputs)
//              backward 2 · AR(A) (gradients at the column-parallel QKV and gate/up inputs)
//              full recompute + 1 · AR(A): the layer's forward is rerun up to what its backward
//              needs, which includes the attention all-reduce (its output feeds LN2) but not the
//              MLP's (the layer output is not an input of the layer's own backward)
//   once: AR(A) for the vocab-parallel embedding's output (forward), AR(A) for the gradient at
//         the vocab-parallel LM head's input (backward), and the vocab-parallel cross-entropy's
//         fp32 per-token statistics, 3 · b · s values in two calls: a MAX all-reduce of the max
//         logits (b · s), then one SUM all-reduce of the target logits and the sums of
//         exponentials together (2 · b · s)
// Per step: grad_accum × per micro batch. Scalars (loss, gradient norm) are left out.
#pragma once

#include <cstdint>

#include "config/config.h"

namespace kiln {

// Bytes each rank sends in one ring collective over `group` ranks on `elements` elements of
// `element_bytes` bytes each; 0 when group is 1.
int64_t ring_reduce_scatter_bytes(int64_t elements, int64_t element_bytes, int64_t group);
int64_t ring_all_gather_bytes(int64_t elements, int64_t element_bytes, int64_t group);
int64_t ring_all_reduce_bytes(int64_t elements, int64_t element_bytes, int64_t group);

// Once per optimizer step, over the data-parallel group.
struct DataParallelComm {
  int64_t grad_buffer_bytes = 0;   // ceil(P/dp) · dp · G: the padded gradient buffer
  int64_t reduce_scatter = 0;      // ZeRO-1 gradients
  int64_t all_gather = 0;          // ZeRO-1 updated weights
  int64_t all_reduce = 0;          // ZeRO-0 gradients
  int64_t total = 0;
};

// Over the tensor-parallel group. The parts are per micro batch; per_step multiplies by
// grad_accum.
struct TensorParallelComm {
  int64_t activation_bytes = 0;         // A: one [b, s, h] tensor in the activation dtype
  int64_t all_reduces_per_layer = 0;    // 4, or 5 in a layer recomputed in full
  int64_t layers = 0;                   // (4·L + recomputing layers) · AR(A)
  int64_t embedding = 0;                // AR(A), forward
  int64_t lm_head = 0;                  // AR(A), backward
  int64_t cross_entropy = 0;            // AR(b·s fp32) + AR(2·b·s fp32)
  int64_t per_micro_batch = 0;          // the four above
  int64_t calls_per_micro_batch = 0;    // collectives launched: L · per layer + 1 + 1 + 2
  int64_t per_step = 0;                 // grad_accum · per_micro_batch
};

struct CommVolume {
  DataParallelComm dp;
  TensorParallelComm tp;
  int64_t total_per_step = 0;  // dp.total + tp.per_step: bytes each rank sends per step
};

CommVolume estimate_comm(const Config& config);

}  // namespace kiln
