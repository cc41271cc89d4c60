#include "hf/hf_config.h"

#include <cmath>
#include <numeric>
#include <set>
#include <vector>

namespace kiln::hf {
namespace {

// Collects every reason a config cannot cross over, then throws them together so one run of the
// command tells the user everything to change.
class Problems {
 public:
  explicit Problems(std::string heading) : heading_(std::move(heading)) {}
  void add(std::string reason) { reasons_.push_back(std::move(reason)); }
  void throw_if_any() const {
    if (reasons_.empty()) return;
    std::string msg = heading_;
    for (const auto& r : reasons_) msg += "\n  - " + r;
    throw HfConfigError(msg);
  }

 private:
  std::string heading_;
  std::vector<std::string> reasons_;
};

std::string num(double x) {
  std::string s = nlohmann::json(x).dump();
  return s;
}

// Rotary dimensions per head, as both kiln and transformers compute them: int(head_dim · factor).
int64_t rotary_dims(int64_t head_dim, double factor) {
  return static_cast<int64_t>(static_cast<double>(head_dim) * factor);
}

// Keys that describe HF bookkeeping or inference-time behaviour, not the forward function.
const std::set<std::string, std::less<>>& ignored_keys() {
  static const std::set<std::string, std::less<>> keys = {
      "_name_or_path", "architectures", "model_type", "transformers_version", "torch_dtype", "dtype",
      "use_cache", "bos_token_id", "eos_token_id", "pad_token_id", "initializer_range", "return_dict",
      "output_hidden_states", "output_attentions", "id2label", "label2id", "problem_type",
      "chunk_size_feed_forward", "is_encoder_decoder", "tie_encoder_decoder", "pretraining_tp",
      "tokenizer_class", "prefix", "sep_token_id", "decoder_start_token_id", "task_specific_params",
      "finetuning_task", "cross_attention_hidden_size", "add_cross_attention", "is_decoder",
      "pruned_heads", "torchscript", "use_bfloat16", "tf_legacy_loss", "_attn_implementation_autoset"};
  return keys;
}

}  // namespace

std::string_view hf_architecture_name(HfArch arch) {
  return arch == HfArch::stablelm ? "StableLmForCausalLM" : "LlamaForCausalLM";
}

HfArch hf_arch_for(const ModelConfig& m) {
  Problems p("kiln's model cannot be exported as HF StableLM or Llama:");
  const HfArch arch = m.norm == NormType::rmsnorm ? HfArch::llama : HfArch::stablelm;
  if (m.positions != PositionType::rotary)
    p.add(std::string("model.positions: ") + (m.positions == PositionType::alibi ? "alibi" : "none") +
          " (HF StableLM and Llama use rotary positions)");
  if (m.mup.enabled) p.add("model.mup.enabled: µP multipliers (embedding, logit and attention scales) have no HF StableLM/Llama counterpart");
  if (m.activation != Activation::swiglu) p.add("model.activation: gelu (HF StableLM and Llama have SwiGLU MLPs)");
  if (m.linear_bias) p.add("model.linear_bias: attention-out and MLP biases (HF StableLM and Llama have none)");
  if (arch == HfArch::llama) {
    if (m.qkv_bias) p.add("model.qkv_bias with model.norm: rmsnorm (HF Llama, the RMSNorm architecture, is exported without biases)");
    if (m.positions == PositionType::rotary && m.rotary_dims() != m.head_dim())
      p.add("model.rotary_pct: " + num(m.rotary_pct) + " with model.norm: rmsnorm (HF Llama rotates every dimension)");
    if (m.parallel_residual) p.add("model.parallel_residual with model.norm: rmsnorm (HF Llama blocks are sequential)");
  }
  p.throw_if_any();
  return arch;
}

nlohmann::ordered_json hf_config_json(const ModelConfig& m, const HfExportOptions& options) {
  const HfArch arch = hf_arch_for(m);
  nlohmann::ordered_json c;
  c["architectures"] = {std::string(hf_architecture_name(arch))};
  c["model_type"] = arch == HfArch::stablelm ? "stablelm" : "llama";
  c["vocab_size"] = m.padded_vocab();
  c["hidden_size"] = m.hidden_size;
  c["intermediate_size"] = m.ffn();
  c["num_hidden_layers"] = m.num_layers;
  c["num_attention_heads"] = m.num_heads;
  c["num_key_value_heads"] = m.num_heads;
  c["hidden_act"] = "silu";
  c["max_position_embeddings"] = m.max_position_embeddings.value();
  c["initializer_range"] = m.init.std;
  c["tie_word_embeddings"] = m.tied_embeddings;
  c["rope_theta"] = m.rotary_theta;
  nlohmann::ordered_json rope = {{"rope_type", "default"}, {"rope_theta", m.rotary_theta}};
  if (arch == HfArch::stablelm) {
    c["partial_rotary_factor"] = m.rotary_pct;
    rope["partial_rotary_factor"] = m.rotary_pct;
    c["layer_norm_eps"] = m.norm_eps;
    c["use_qkv_bias"] = m.qkv_bias;
    c["use_parallel_residual"] = m.parallel_residual;
    c["qk_layernorm"] = false;
  } else {
    c["rms_norm_eps"] = m.norm_eps;
    c["attention_bias"] = false;
    c["mlp_bias"] = false;
    c["head_dim"] = m.head_dim();
  }
  c["rope_parameters"] = rope;
  c["attention_dropout"] = 0.0;
  if (arch == HfArch::stablelm) c["hidden_dropout"] = 0.0;
  if (options.bos_token_id) c["bos_token_id"] = *options.bos_token_id;
  if (options.eos_token_id) c["eos_token_id"] = *options.eos_token_id;
  c["torch_dtype"] = options.torch_dtype;
  c["use_cache"] = true;
  return c;
}

HfImportedConfig model_from_hf_config(const nlohmann::json& c, const std::string& source) {
  if (!c.is_object()) throw HfConfigError(source + ": expected a JSON object");
  const std::string model_type = c.contains("model_type") && c["model_type"].is_string() ? c["model_type"].get<std::string>() : "";
  if (model_type != "stablelm" && model_type != "llama")
    throw HfConfigError(source + ": model_type '" + model_type +
                        "' is not supported; kiln imports \"stablelm\" (StableLmForCausalLM) and \"llama\" (LlamaForCausalLM)");
  const HfArch arch = model_type == "stablelm" ? HfArch::stablelm : HfArch::llama;
  Problems p(source + ": this " + std::string(hf_architecture_name(arch)) + " config cannot be imported into kiln:");

  if (c.contains("architectures") && c["architectures"].is_array()) {
    for (const auto& a : c["architectures"])
      if (!a.is_string() || a.get<std::string>() != hf_architecture_name(arch))
        p.add("architectures: " + a.dump() + " (kiln imports " + std::string(hf_architecture_name(arch)) + ")");
  }

  std::set<std::string> used;
  auto has = [&](const char* key) { return c.contains(key) && !c[key].is_null(); };
  auto integer = [&](const char* key, std::optional<int64_t> def = std::nullopt) -> int64_t {
    used.insert(key);
    if (!has(key)) {
      if (def) return *def;
      p.add(std::string(key) + ": missing");
      return 1;
    }
    if (!c[key].is_number_integer() || c[key].get<int64_t>() < 1) {
      p.add(std::string(key) + ": " + c[key].dump() + " (expected a positive integer)");
      return 1;
    }
    return c[key].get<int64_t>();
  };
  auto real = [&](const char* key, double def) -> double {
    used.insert(key);
    if (!has(key)) return def;
    if (!c[key].is_number()) {
      p.add(std::string(key) + ": " + c[key].dump() + " (expected a number)");
      return def;
    }
    return c[key].get<double>();
  };
  auto flag = [&](const char* key, bool def) -> bool {
    used.insert(key);
    if (!has(key)) return def;
    if (!c[key].is_boolean()) {
      p.add(std::string(key) + ": " + c[key].dump() + " (expected true or false)");
      return def;
    }
    return c[key].get<bool>();
  };
  auto must_be_false = [&](const char* key, const std::string& why) {
    if (flag(key, false)) p.add(std::string(key) + ": true (" + why + ")");
  };

  const int64_t layers = integer("num_hidden_layers");
  const int64_t hidden = integer("hidden_size");
  const int64_t heads = integer("num_attention_heads");
  const int64_t ffn = integer("intermediate_size");
  const int64_t vocab = integer("vocab_size");
  const int64_t max_pos = integer("max_position_embeddings", arch == HfArch::stablelm ? 4096 : 2048);
  const int64_t kv_heads = integer("num_key_value_heads", heads);
  if (kv_heads != heads)
    p.add("num_key_value_heads: " + std::to_string(kv_heads) + " ≠ num_attention_heads " + std::to_string(heads) +
          " (grouped-query attention: kiln has no num_kv_heads)");
  used.insert("hidden_act");
  const std::string act = has("hidden_act") && c["hidden_act"].is_string() ? c["hidden_act"].get<std::string>() : "silu";
  if (act != "silu" && act != "swish")
    p.add("hidden_act: \"" + act + "\" (kiln's SwiGLU MLP gates with silu)");
  const bool tied = flag("tie_word_embeddings", false);

  // Rotary: transformers 5's rope_parameters, or the older top-level keys.
  double theta = real("rope_theta", 10000.0);
  double factor = real("partial_rotary_factor", arch == HfArch::stablelm ? 0.25 : 1.0);
  used.insert("rope_parameters");
  if (has("rope_parameters")) {
    const auto& r = c["rope_parameters"];
    if (!r.is_object()) {
      p.add("rope_parameters: " + r.dump() + " (expected an object)");
    } else {
      for (const auto& [k, v] : r.items()) {
        if (k == "rope_type") {
          if (!v.is_string() || (v.get<std::string>() != "default"))
            p.add("rope_parameters.rope_type: " + v.dump() + " (kiln's rotary is the plain \"default\" RoPE)");
        } else if (k == "rope_theta" && v.is_number()) {
          theta = v.get<double>();
        } else if (k == "partial_rotary_factor" && v.is_number()) {
          factor = v.get<double>();
        } else {
          p.add("rope_parameters." + k + ": " + v.dump() + " (RoPE scaling is not supported)");
        }
      }
    }
  }
  used.insert("rope_scaling");
  if (has("rope_scaling")) p.add("rope_scaling: " + c["rope_scaling"].dump() + " (RoPE scaling is not supported)");
  for (const char* key : {"attention_dropout", "hidden_dropout"}) {
    if (real(key, 0.0) != 0.0) p.add(std::string(key) + ": " + c[key].dump() + " (kiln has no dropout)");
  }

  YAML::Node m;
  m["num_layers"] = layers;
  m["hidden_size"] = hidden;
  m["num_heads"] = heads;
  m["ffn_hidden_size"] = ffn;
  m["vocab_size"] = vocab;
  m["vocab_pad_multiple"] = std::gcd(vocab, int64_t{128});
  m["seq_length"] = max_pos;
  m["max_position_embeddings"] = max_pos;
  m["positions"] = "rotary";
  m["rotary_theta"] = theta;
  m["activation"] = "swiglu";
  m["linear_bias"] = false;
  m["tied_embeddings"] = tied;
  m["mup"]["enabled"] = false;
  if (has("initializer_range") && c["initializer_range"].is_number() && c["initializer_range"].get<double>() > 0)
    m["init"]["std"] = c["initializer_range"].get<double>();

  if (arch == HfArch::stablelm) {
    m["norm"] = "layernorm";
    m["norm_eps"] = real("layer_norm_eps", 1e-5);
    m["norm_bias"] = true;  // nn.LayerNorm(hidden_size) always has a bias
    m["final_norm_bias"] = true;
    m["rotary_pct"] = factor;
    m["qkv_bias"] = flag("use_qkv_bias", false);
    m["parallel_residual"] = flag("use_parallel_residual", false);
    must_be_false("qk_layernorm", "per-head LayerNorm of Q and K is not in kiln's attention");
  } else {
    m["norm"] = "rmsnorm";
    m["norm_eps"] = real("rms_norm_eps", 1e-6);
    m["norm_bias"] = false;
    m["final_norm_bias"] = false;
    if (factor != 1.0) p.add("partial_rotary_factor: " + num(factor) + " (kiln imports Llama with full rotary)");
    m["rotary_pct"] = 1.0;
    m["qkv_bias"] = false;
    m["parallel_residual"] = false;
    must_be_false("attention_bias", "kiln's Llama import has no attention biases");
    must_be_false("mlp_bias", "kiln's Llama import has no MLP biases");
    const int64_t head_dim = integer("head_dim", heads > 0 ? hidden / heads : 1);
    if (heads > 0 && head_dim * heads != hidden)
      p.add("head_dim: " + std::to_string(head_dim) + " × num_attention_heads " + std::to_string(heads) +
            " ≠ hidden_size " + std::to_string(hidden) + " (kiln's head dim is hidden_size / num_heads)");
  }
  if (heads > 0 && hidden % heads != 0)
    p.add("hidden_size " + std::to_string(hidden) + " is not a multiple of num_attention_heads " + std::to_string(heads));
  else if (heads > 0 && factor > 0 && rotary_dims(hidden / heads, factor) % 2 != 0)
    p.add("partial_rotary_factor: " + num(factor) + " gives an odd number of rotary dimensions");

  for (const auto& [k, v] : c.items()) {
    if (used.count(k) == 0 && ignored_keys().count(k) == 0)
      p.add(k + ": " + v.dump() + " (a key kiln's import does not know; it may change the model)");
  }
  p.throw_if_any();
  return {arch, m};
}

}  // namespace kiln::hf
