// The planner: exact parameter counts, FLOPs per token, a per-rank memory estimate and per-rank
// communication volume (comm_volume.h) for a loaded Config, computed from the config alone (no
// model is built, nothing is allocated).
//
// Every function expects a Config as the loader produces it: optionals engaged and validated, in
// particular parallel.tensor divides num_heads, hidden_size, ffn() and padded_vocab(). Under that
// guarantee every per-rank figure below is exact integer arithmetic.
#pragma once

#include <cstdint>

#include "config/config.h"
#include "plan/comm_volume.h"

namespace kiln {

// Parameters of one transformer layer, by component. d = hidden, f = ffn().
struct LayerParams {
  int64_t qkv_weight = 0;       // 3·d²
  int64_t qkv_bias = 0;         // 3·d if qkv_bias
  int64_t attn_out_weight = 0;  // d²
  int64_t attn_out_bias = 0;    // d if linear_bias
  int64_t mlp_weight = 0;       // swiglu 3·d·f (gate, up, down); gelu 2·d·f (up, down)
  int64_t mlp_bias = 0;         // if linear_bias: swiglu 2·f + d; gelu f + d
  int64_t norms = 0;            // two norms of d weights, + d bias each for layernorm with norm_bias

  int64_t total() const {
    return qkv_weight + qkv_bias + attn_out_weight + attn_out_bias + mlp_weight + mlp_bias + norms;
  }
};

// Whole-model parameter counts. V = padded_vocab(), d = hidden, L = num_layers.
struct ParamCounts {
  int64_t embedding = 0;   // V·d
  LayerParams layer;       // one layer; all layers are identical
  int64_t layers = 0;      // L · layer.total()
  int64_t final_norm = 0;  // d, + d bias if final_norm_bias and layernorm
  int64_t lm_head = 0;     // V·d, or 0 when tied to the embedding (stored once)
  int64_t total = 0;       // embedding + layers + final_norm + lm_head
  // The N of SPEC §5: everything but the input embedding, plus the LM-head matrix even when it is
  // tied, because the output projection costs its matmul FLOPs whether or not it shares storage.
  int64_t n_flops = 0;
};

// Bytes of one element: 2 for bf16, 4 for fp32.
int64_t precision_bytes(Precision p);

ParamCounts count_parameters(const ModelConfig& model);

// Training FLOPs per token, T = seq_length: PaLM style 6N + 12·L·d·T, or causal-halved
// 6N + 6·L·d·T (attention scores are only needed below the diagonal). N = ParamCounts::n_flops.
int64_t flops_per_token(const ModelConfig& model, bool causal_halved);

// Parameters held by one tensor-parallel rank under Megatron sharding, tensor = t:
//   sharded /t: QKV weight and bias, MLP gate/up weights and biases (column parallel),
//               attention-out and MLP down weights (row parallel), embedding, LM head;
//   replicated: every norm, attention-out bias and down bias (added after the row-parallel
//               all-reduce), final norm.
int64_t params_per_rank(const ModelConfig& model, int64_t tensor);

// Activation bytes one rank keeps for the backward pass of one micro batch.
// s = seq_length, b = micro_batch, h = hidden, f = ffn(), a = heads, t = tensor,
// V = padded_vocab(), e = 2 bytes (bf16) or 4 (fp32). Attention is fused (flash style), so no
// s×s score matrix is ever stored; only its fp32 log-sum-exp per row.
//
//   per layer, recompute none:
//     e·(4·s·b·h            layer input, LN1 out, mid residual, LN2 out (replicated over t)
//        + 4·s·b·h/t        q, k, v, attention output
//        + m·s·b·f/t)       MLP intermediates: swiglu m = 3 (gate, up, product), gelu m = 2
//     + 4·(4·s·b            mean and rstd of the two norms, fp32
//        + s·b·a/t)         softmax log-sum-exp, fp32
//   selective: the same without the MLP intermediates term (they are recomputed).
//   full:      L · e·s·b·h (each layer's input only) + one 'none' layer as the working set of the
//              layer being recomputed during backward.
//   once:      logits e·s·b·V/t, their fp32 log-sum-exp 4·s·b, final norm output e·s·b·h.
struct ActivationBytes {
  int64_t per_layer = 0;              // stored per layer under the chosen recompute mode
  int64_t layers = 0;                 // L · per_layer
  int64_t recompute_working_set = 0;  // full recompute only: one layer's 'none' value
  int64_t logits = 0;
  int64_t logits_lse = 0;
  int64_t final_norm = 0;
  int64_t total = 0;
};

ActivationBytes estimate_activations(const Config& config);

// Per-rank memory in bytes.
//   weights:   per-rank params × (2 bf16 | 4 fp32)
//   gradients: per-rank params × (4 | 2 by grad_reduce_dtype; 2 on train.device cuda); not sharded
//   by ZeRO-1
//   optimizer: ZeRO shard × (12 under bf16: fp32 master + Adam m + v; 8 under fp32, where the
//              weights themselves are the masters)
//   activations: ActivationBytes::total for one micro batch
struct MemoryBytes {
  int64_t weights = 0;
  int64_t gradients = 0;
  int64_t optimizer = 0;
  int64_t activations = 0;
  int64_t total = 0;
};

struct Plan {
  ParamCounts params;
  int64_t flops_per_token_palm = 0;
  int64_t flops_per_token_causal = 0;

  int64_t tensor = 0;
  int64_t data = 0;
  int64_t world = 0;
  int64_t zero_stage = 0;
  int64_t per_rank_params = 0;
  int64_t optimizer_shard_params = 0;  // ceil(per_rank_params / data) under ZeRO-1, else all

  ActivationBytes activations;
  MemoryBytes memory;

  int64_t micro_batch = 0;
  int64_t grad_accum = 0;  // micro batches per optimizer step
  int64_t global_batch = 0;
  int64_t tokens_per_step = 0;

  CommVolume comm;  // bytes each rank sends per step (comm_volume.h)
};

Plan make_plan(const Config& config);

}  // namespace kiln
