#include "model/param_names.h"

#include <stdexcept>
#include <vector>

namespace kiln {
namespace {

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace

std::string layer_param_name(int64_t layer, std::string_view suffix) {
  return "model.layers." + std::to_string(layer) + "." + std::string(suffix);
}

ParamRole param_role(std::string_view name) {
  if (name == "model.embed_tokens.weight") return ParamRole::embedding;
  if (name == "lm_head.weight") return ParamRole::lm_head;
  if (name == "model.norm.weight" || ends_with(name, "layernorm.weight")) return ParamRole::norm_weight;
  if (name == "model.norm.bias" || ends_with(name, "layernorm.bias")) return ParamRole::norm_bias;
  if (name.starts_with("model.layers.")) {
    if (ends_with(name, "_proj.bias")) return ParamRole::bias;
    if (ends_with(name, "o_proj.weight") || ends_with(name, "down_proj.weight")) return ParamRole::hidden_out;
    if (ends_with(name, "_proj.weight")) return ParamRole::hidden;
  }
  throw std::invalid_argument("param_role: '" + std::string(name) + "' is not a parameter of kiln's decoder");
}

ParamInfo param_info(ParamRole role, const ModelConfig& model) {
  ParamInfo info;
  switch (role) {
    case ParamRole::bias:
    case ParamRole::norm_weight:
    case ParamRole::norm_bias:
      info.decay = false;
      break;
    case ParamRole::hidden:
    case ParamRole::hidden_out:
      info.lr_scale = model.mup_width_scale();  // 1 without µP
      break;
    case ParamRole::embedding:
    case ParamRole::lm_head:
      break;
  }
  return info;
}

void register_parameters(ParamRegistry& registry, const ModelConfig& model) {
  const int64_t d = model.hidden_size;
  const int64_t f = model.ffn();
  const int64_t v = model.padded_vocab();
  const bool layernorm = model.norm == NormType::layernorm;

  auto add = [&](std::string name, std::vector<int64_t> shape) {
    const ParamInfo info = param_info(param_role(name), model);
    registry.add(std::move(name), std::move(shape), info);
  };
  // A norm over d channels: a gain, and a bias only for LayerNorm with the flag set.
  auto add_norm = [&](const std::string& prefix, bool bias) {
    add(prefix + ".weight", {d});
    if (layernorm && bias) add(prefix + ".bias", {d});
  };
  auto add_linear = [&](const std::string& prefix, int64_t out, int64_t in, bool bias) {
    add(prefix + ".weight", {out, in});
    if (bias) add(prefix + ".bias", {out});
  };

  add("model.embed_tokens.weight", {v, d});
  for (int64_t l = 0; l < model.num_layers; ++l) {
    auto name = [&](std::string_view suffix) { return layer_param_name(l, suffix); };
    add_norm(name("input_layernorm"), model.norm_bias);
    add_linear(name("self_attn.q_proj"), d, d, model.qkv_bias);
    add_linear(name("self_attn.k_proj"), d, d, model.qkv_bias);
    add_linear(name("self_attn.v_proj"), d, d, model.qkv_bias);
    add_linear(name("self_attn.o_proj"), d, d, model.linear_bias);
    add_norm(name("post_attention_layernorm"), model.norm_bias);
    if (model.activation == Activation::swiglu) add_linear(name("mlp.gate_proj"), f, d, model.linear_bias);
    add_linear(name("mlp.up_proj"), f, d, model.linear_bias);
    add_linear(name("mlp.down_proj"), d, f, model.linear_bias);
  }
  add_norm("model.norm", model.final_norm_bias.value());
  if (!model.tied_embeddings) add("lm_head.weight", {v, d});
}

ParamRegistry make_param_registry(const ModelConfig& model) {
  ParamRegistry registry;
  register_parameters(registry, model);
  registry.finalize();
  return registry;
}

}  // namespace kiln
