#include "plan/comm_volume.h"

#include "plan/planner.h"

namespace kiln {
namespace {

// Elements in each of the `group` chunks a ring moves: the buffer padded to a multiple of group.
int64_t ring_chunk(int64_t elements, int64_t group) { return (elements + group - 1) / group; }

}  // namespace

// A ring reduce-scatter takes g − 1 steps; in each, a rank sends one chunk to its neighbour (and
// receives one), so it sends g − 1 of the g chunks. The all-gather is the same walk with copies
// instead of sums. An all-reduce is one of each.
int64_t ring_reduce_scatter_bytes(int64_t elements, int64_t element_bytes, int64_t group) {
  return (group - 1) * ring_chunk(elements, group) * element_bytes;
}

int64_t ring_all_gather_bytes(int64_t elements, int64_t element_bytes, int64_t group) {
  return ring_reduce_scatter_bytes(elements, element_bytes, group);
}

int64_t ring_all_reduce_bytes(int64_t elements, int64_t element_bytes, int64_t group) {
  return ring_reduce_scatter_bytes(elements, element_bytes, group) +
         ring_all_gather_bytes(elements, element_bytes, group);
}

CommVolume estimate_comm(const Config& config) {
  const ModelConfig& m = config.model;
  const int64_t tp = config.parallel.tensor;
  const int64_t dp = config.parallel.data;
  const int64_t weight_bytes = precision_bytes(config.train.precision);
  const int64_t grad_bytes = precision_bytes(config.parallel.grad_reduce_dtype);
  const int64_t params = params_per_rank(m, tp);

  CommVolume c;

  // Data parallel: one reduction of the whole flat gradient buffer per step, after the last micro
  // batch (gradients accumulate locally in between). Under ZeRO-1 each rank receives only its
  // shard's sums, updates that shard, and the new weights are gathered back.
  DataParallelComm& d = c.dp;
  d.grad_buffer_bytes = ring_chunk(params, dp) * dp * grad_bytes;
  if (config.parallel.zero_stage == 1) {
    d.reduce_scatter = ring_reduce_scatter_bytes(params, grad_bytes, dp);
    d.all_gather = ring_all_gather_bytes(params, weight_bytes, dp);
  } else {
    d.all_reduce = ring_all_reduce_bytes(params, grad_bytes, dp);
  }
  d.total = d.reduce_scatter + d.all_gather + d.all_reduce;

  // Tensor parallel: activations travel in the training dtype, the cross-entropy's statistics in
  // fp32 whatever it is (they are sums over the vocabulary).
  TensorParallelComm& t = c.tp;
  const int64_t tokens = config.batch.micro_batch * m.seq_length;
  const int64_t activation_elements = tokens * m.hidden_size;
  const int64_t activation_ar = ring_all_reduce_bytes(activation_elements, weight_bytes, tp);
  t.activation_bytes = activation_elements * weight_bytes;
  // Each layer all-reduces twice forward (o_proj, down_proj) and twice backward (the input
  // gradients of Q/K/V and gate/up); a layer recomputed in full reruns its forward up to the MLP
  // intermediates, which includes o_proj's all-reduce but not down_proj's.
  const int64_t recomputing = config.train.recompute == Recompute::full
                                  ? config.train.recompute_layers.value_or(m.num_layers) : 0;
  t.all_reduces_per_layer = recomputing > 0 ? 5 : 4;
  const int64_t layer_all_reduces = 4 * m.num_layers + recomputing;
  t.layers = layer_all_reduces * activation_ar;
  t.embedding = activation_ar;
  t.lm_head = activation_ar;
  t.cross_entropy = ring_all_reduce_bytes(tokens, 4, tp) + ring_all_reduce_bytes(2 * tokens, 4, tp);
  t.per_micro_batch = t.layers + t.embedding + t.lm_head + t.cross_entropy;
  t.calls_per_micro_batch = tp > 1 ? layer_all_reduces + 1 + 1 + 2 : 0;
  t.per_step = config.batch.grad_accum.value() * t.per_micro_batch;

  c.total_per_step = d.total + t.per_step;
  return c;
}

}  // namespace kiln
