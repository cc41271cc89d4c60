#include "model/param_layout.h"

#include <string>

#include "model/param_names.h"

namespace kiln {
namespace {

// The offset of `name`, or −1 when the registry does not hold it (a tensor the config omits).
int64_t offset_or_absent(const ParamRegistry& registry, const std::string& name) {
  return registry.contains(name) ? registry.at(name).offset : -1;
}

}  // namespace

ModelParamOffsets resolve_param_offsets(const ParamRegistry& registry, const ModelConfig& model) {
  auto off = [&](const std::string& name) { return offset_or_absent(registry, name); };

  ModelParamOffsets m;
  m.embed = registry.at("model.embed_tokens.weight").offset;  // always present; throws otherwise
  m.layers.resize(static_cast<size_t>(model.num_layers));
  for (int64_t l = 0; l < model.num_layers; ++l) {
    auto name = [&](const char* suffix) { return layer_param_name(l, suffix); };
    LayerParamOffsets& o = m.layers[static_cast<size_t>(l)];
    o.ln1_w = off(name("input_layernorm.weight"));
    o.ln1_b = off(name("input_layernorm.bias"));
    o.q_w = off(name("self_attn.q_proj.weight"));
    o.q_b = off(name("self_attn.q_proj.bias"));
    o.k_w = off(name("self_attn.k_proj.weight"));
    o.k_b = off(name("self_attn.k_proj.bias"));
    o.v_w = off(name("self_attn.v_proj.weight"));
    o.v_b = off(name("self_attn.v_proj.bias"));
    o.o_w = off(name("self_attn.o_proj.weight"));
    o.o_b = off(name("self_attn.o_proj.bias"));
    o.ln2_w = off(name("post_attention_layernorm.weight"));
    o.ln2_b = off(name("post_attention_layernorm.bias"));
    o.gate_w = off(name("mlp.gate_proj.weight"));
    o.gate_b = off(name("mlp.gate_proj.bias"));
    o.up_w = off(name("mlp.up_proj.weight"));
    o.up_b = off(name("mlp.up_proj.bias"));
    o.down_w = off(name("mlp.down_proj.weight"));
    o.down_b = off(name("mlp.down_proj.bias"));
  }
  m.norm_w = off("model.norm.weight");
  m.norm_b = off("model.norm.bias");
  m.lm_head = off("lm_head.weight");
  return m;
}

}  // namespace kiln
