// kiln's model section ↔ a Hugging Face config.json (docs/hf-interop.md).
//
// Two HF architectures can hold a kiln model exactly, i.e. with the same forward function:
//
//   StableLmForCausalLM (model_type "stablelm")   LayerNorm, rotary (any partial factor), SwiGLU,
//                                                 optional Q/K/V biases, sequential or parallel
//                                                 residual (HF's parallel block reuses the input
//                                                 norm for the MLP: see hf_weights.h)
//   LlamaForCausalLM    (model_type "llama")      RMSNorm, full rotary, SwiGLU, no biases at all,
//                                                 sequential residual
//
// StableLM's LayerNorms always have a bias; kiln's norm_bias = false is the same function with a
// zero bias, so it exports as zeros (and imports back as a trainable, zero bias: norm_bias true).
//
// Everything else is refused, naming every kiln key (export) or config.json key (import) that
// stands in the way: ALiBi or no positions, µP, GELU MLPs, attention-out / MLP biases, grouped
// query attention, qk_layernorm, RoPE scaling, dropout, an unknown activation or key, …
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "config/config.h"

namespace kiln::hf {

// A config (either direction) that HF StableLM / Llama cannot represent, or a malformed
// config.json. The message lists every reason, each naming its key.
struct HfConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class HfArch { stablelm, llama };

std::string_view hf_architecture_name(HfArch arch);  // "StableLmForCausalLM", "LlamaForCausalLM"

// The architecture that represents `model` exactly; HfConfigError listing the reasons otherwise.
HfArch hf_arch_for(const ModelConfig& model);

struct HfExportOptions {
  std::string torch_dtype = "bfloat16";    // the dtype the weights are written in ("float32" or "bfloat16")
  std::optional<int64_t> bos_token_id, eos_token_id;
};

// config.json for `model` (a loaded config: optionals engaged). vocab_size is kiln's PADDED
// vocabulary (hf_weights.h writes every embedding row). Rotary settings are written both as
// transformers 5's rope_parameters and as the older top-level rope_theta / partial_rotary_factor,
// which transformers 4 reads. Throws HfConfigError as hf_arch_for.
nlohmann::ordered_json hf_config_json(const ModelConfig& model, const HfExportOptions& options = {});

// config.json → kiln's `model:` section as a YAML tree (keys as in the config schema), with
// seq_length = max_position_embeddings (the caller may lower it), vocab_size = HF's vocab_size and
// vocab_pad_multiple = gcd(vocab_size, 128), so that kiln's padded vocabulary is HF's exactly.
// `source` names the file in messages. Throws HfConfigError listing every unsupported key/value.
struct HfImportedConfig {
  HfArch arch;
  YAML::Node model;
};
HfImportedConfig model_from_hf_config(const nlohmann::json& config, const std::string& source);

}  // namespace kiln::hf
