#include "plan/planner.h"

namespace kiln {
namespace {

// Count of MLP matrices: swiglu has gate, up and down; gelu has up and down.
int64_t mlp_matrices(Activation act) { return act == Activation::swiglu ? 3 : 2; }

// Weights plus optional bias of one norm. RMSNorm has no bias whatever the flag says.
int64_t norm_params(const ModelConfig& m, bool bias) {
  const bool has_bias = bias && m.norm == NormType::layernorm;
  return m.hidden_size * (has_bias ? 2 : 1);
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

int64_t precision_bytes(Precision p) { return p == Precision::bf16 ? 2 : 4; }

ParamCounts count_parameters(const ModelConfig& m) {
  const int64_t d = m.hidden_size;
  const int64_t f = m.ffn();
  const int64_t v = m.padded_vocab();
  const int64_t mats = mlp_matrices(m.activation);

  ParamCounts c;
  c.embedding = v * d;

  LayerParams& l = c.layer;
  l.qkv_weight = 3 * d * d;
  l.qkv_bias = m.qkv_bias ? 3 * d : 0;
  l.attn_out_weight = d * d;
  l.attn_out_bias = m.linear_bias ? d : 0;
  l.mlp_weight = mats * d * f;
  // Every matrix but the down projection outputs f features; the down projection outputs d.
  l.mlp_bias = m.linear_bias ? (mats - 1) * f + d : 0;
  l.norms = 2 * norm_params(m, m.norm_bias);

  c.layers = m.num_layers * l.total();
  c.final_norm = norm_params(m, m.final_norm_bias.value());
  c.lm_head = m.tied_embeddings ? 0 : v * d;
  c.total = c.embedding + c.layers + c.final_norm + c.lm_head;
  c.n_flops = c.layers + c.final_norm + v * d;
  return c;
}

int64_t flops_per_token(const ModelConfig& m, bool causal_halved) {
  const int64_t attention = (causal_halved ? 6 : 12) * m.num_layers * m.hidden_size * m.seq_length;
  return 6 * count_parameters(m).n_flops + attention;
}

int64_t params_per_rank(const ModelConfig& m, int64_t t) {
  const ParamCounts c = count_parameters(m);
  const LayerParams& l = c.layer;
  const int64_t d = m.hidden_size;

  // Biases after a row-parallel matmul are added once the partial sums are reduced, so they are
  // replicated: the attention-out bias and the MLP down bias (d of mlp_bias).
  const int64_t down_bias = m.linear_bias ? d : 0;
  const int64_t layer_replicated = l.norms + l.attn_out_bias + down_bias;
  // Each term divides by t on its own (t divides d, f and V), so the sum is exact.
  const int64_t layer_sharded = l.qkv_weight / t + l.qkv_bias / t + l.attn_out_weight / t +
                                l.mlp_weight / t + (l.mlp_bias - down_bias) / t;

  return m.num_layers * (layer_sharded + layer_replicated) + c.embedding / t + c.lm_head / t +
         c.final_norm;
}

ActivationBytes estimate_activations(const Config& config) {
  const ModelConfig& m = config.model;
  const int64_t s = m.seq_length;
  const int64_t b = config.batch.micro_batch;
  const int64_t h = m.hidden_size;
  const int64_t f = m.ffn();
  const int64_t a = m.num_heads;
  const int64_t t = config.parallel.tensor;
  const int64_t v = m.padded_vocab();
  const int64_t e = precision_bytes(config.train.precision);
  const int64_t sb = s * b;

  const int64_t mlp_intermediates = e * mlp_matrices(m.activation) * sb * f / t;
  const int64_t full_layer = e * (4 * sb * h + 4 * sb * h / t) + mlp_intermediates +
                             4 * (4 * sb + sb * a / t);

  ActivationBytes act;
  // Layers [0, k) recompute as train.recompute says; the others keep everything.
  const int64_t k = config.train.recompute == Recompute::none ? 0 : config.train.recompute_layers.value_or(m.num_layers);
  switch (config.train.recompute) {
    case Recompute::none:
      act.per_layer = full_layer;
      break;
    case Recompute::selective:
      // The MLP intermediates of a recomputing layer live in one buffer that all of them share.
      act.per_layer = full_layer - mlp_intermediates;
      if (k > 0) act.recompute_working_set = mlp_intermediates;
      break;
    case Recompute::full:
      act.per_layer = e * sb * h;
      if (k > 0) act.recompute_working_set = full_layer;
      break;
  }
  act.layers = k * act.per_layer + (m.num_layers - k) * full_layer;
  act.logits = e * sb * v / t;
  act.logits_lse = 4 * sb;
  act.final_norm = e * sb * h;
  act.total = act.layers + act.recompute_working_set + act.logits + act.logits_lse + act.final_norm;
  return act;
}

Plan make_plan(const Config& config) {
  const ModelConfig& m = config.model;
  Plan p;
  p.params = count_parameters(m);
  p.flops_per_token_palm = flops_per_token(m, false);
  p.flops_per_token_causal = flops_per_token(m, true);

  p.tensor = config.parallel.tensor;
  p.data = config.parallel.data;
  p.world = config.world_size();
  p.zero_stage = config.parallel.zero_stage;
  p.per_rank_params = params_per_rank(m, p.tensor);
  // Rounded up: the largest shard, not the average, is what a rank must hold.
  p.optimizer_shard_params =
      p.zero_stage == 1 ? ceil_div(p.per_rank_params, p.data) : p.per_rank_params;

  p.activations = estimate_activations(config);

  const bool bf16 = config.train.precision == Precision::bf16;
  MemoryBytes& mem = p.memory;
  mem.weights = p.per_rank_params * precision_bytes(config.train.precision);
  // The CUDA backend keeps its gradient buffer in bf16 (docs/cuda-backend.md); the CPU backend in
  // parallel.grad_reduce_dtype.
  mem.gradients = p.per_rank_params * (config.train.device == Device::cuda
                                           ? 2 : precision_bytes(config.parallel.grad_reduce_dtype));
  // bf16 keeps an fp32 master copy beside Adam's m and v; fp32 updates the weights in place.
  mem.optimizer = p.optimizer_shard_params * (bf16 ? 12 : 8);
  mem.activations = p.activations.total;
  mem.total = mem.weights + mem.gradients + mem.optimizer + mem.activations;

  p.micro_batch = config.batch.micro_batch;
  p.grad_accum = config.batch.grad_accum.value();
  p.global_batch = config.batch.global_batch.value();
  p.tokens_per_step = config.tokens_per_step();

  p.comm = estimate_comm(config);
  return p;
}

}  // namespace kiln
