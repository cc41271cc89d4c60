// The model's parameters: their global names, shapes and optimizer groups.
//
// Names are Hugging Face StableLM's (`StableLmForCausalLM`, SPEC.md §1), so a checkpoint tensor
// maps onto kiln's flat buffer by name alone. Shapes are the global ones, nn.Linear's [out, in]:
//
//   model.embed_tokens.weight                              [Vpad, d]
//   model.layers.N.input_layernorm.{weight, bias}          [d]        bias: layernorm && norm_bias
//   model.layers.N.self_attn.{q,k,v}_proj.weight           [d, d]
//   model.layers.N.self_attn.{q,k,v}_proj.bias             [d]        qkv_bias
//   model.layers.N.self_attn.o_proj.weight                 [d, d]
//   model.layers.N.self_attn.o_proj.bias                   [d]        linear_bias (kiln extension, BTLM)
//   model.layers.N.post_attention_layernorm.{weight, bias} [d]        as input_layernorm
//   model.layers.N.mlp.gate_proj.weight                    [f, d]     swiglu only
//   model.layers.N.mlp.up_proj.weight                      [f, d]
//   model.layers.N.mlp.down_proj.weight                    [d, f]
//   model.layers.N.mlp.{gate,up,down}_proj.bias            [f]/[d]    linear_bias
//   model.norm.{weight, bias}                              [d]        bias: layernorm && final_norm_bias
//   lm_head.weight                                         [Vpad, d]  unless tied_embeddings
//
// RMSNorm never has a bias, whatever the flags say (as the planner counts it).
//
// Each name also has a role (what kind of tensor it is), from which both the optimizer group
// (here) and the initialiser (init.h) follow, so the two can never disagree about, say, which
// tensors are "hidden matrices" under µP.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "tensor/param_registry.h"

namespace kiln {

enum class ParamRole {
  embedding,    // model.embed_tokens.weight
  lm_head,      // lm_head.weight
  hidden,       // Q, K, V, gate and up projection weights
  hidden_out,   // attention-out (o_proj) and MLP-out (down_proj) weights: the residual writers
  bias,         // every linear bias
  norm_weight,  // norm gains
  norm_bias,    // norm biases
};

// "model.layers.<layer>.<suffix>".
std::string layer_param_name(int64_t layer, std::string_view suffix);

// The role of a name produced by register_parameters. Throws std::invalid_argument for a name
// kiln's decoder does not have.
ParamRole param_role(std::string_view name);

// The optimizer group of a role (SPEC.md §3): no weight decay on biases and norms (embeddings
// and the LM head are decayed); the learning rate × mup_width_scale() on the hidden matrices
// (Q, K, V, O, gate, up, down) when µP is on, × 1 for everything else. An untied LM head under
// µP keeps lr × 1 like the embedding: µP's output multiplier already scales its contribution.
ParamInfo param_info(ParamRole role, const ModelConfig& model);

// Adds every parameter of `model` to `registry` in forward order (embedding, layers 0..L−1 each
// in HF order, final norm, LM head). Does not finalize.
void register_parameters(ParamRegistry& registry, const ModelConfig& model);

// A finalized registry holding exactly the model's parameters.
ParamRegistry make_param_registry(const ModelConfig& model);

}  // namespace kiln
