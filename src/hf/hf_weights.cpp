#include "hf/hf_weights.h"

#include <cstring>
#include <map>
#include <set>

#include "tensor/bf16.h"

namespace kiln::hf {
namespace {

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && std::string_view(s).substr(s.size() - tail.size()) == tail;
}

// "model.layers.3.post_attention_layernorm.weight" → "model.layers.3.input_layernorm.weight".
std::string input_norm_of(const std::string& post_norm_name) {
  const std::string from = "post_attention_layernorm";
  std::string s = post_norm_name;
  s.replace(s.find(from), from.size(), "input_layernorm");
  return s;
}

bool is_post_norm(const std::string& name) { return name.find(".post_attention_layernorm.") != std::string::npos; }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<int64_t> dims(const Shape& shape) {
  std::vector<int64_t> out;
  for (int i = 0; i < shape.rank(); ++i) out.push_back(shape[i]);
  return out;
}

}  // namespace

std::vector<HfTensorMap> hf_tensor_map(const ModelConfig& model, HfArch arch, const ParamRegistry& registry) {
  std::vector<HfTensorMap> out;
  for (const ParamEntry& e : registry) {
    if (model.parallel_residual && is_post_norm(e.name)) continue;  // HF's parallel block has one norm
    out.push_back({e.name, e.name, dims(e.shape)});
    // StableLM's nn.LayerNorm always has a bias: a kiln norm without one exports a zero bias.
    const bool norm_weight = ends_with(e.name, "layernorm.weight") || e.name == "model.norm.weight";
    if (arch == HfArch::stablelm && norm_weight) {
      const std::string bias = e.name.substr(0, e.name.size() - std::string_view("weight").size()) + "bias";
      if (!registry.contains(bias)) out.push_back({bias, "", dims(e.shape)});
    }
  }
  return out;
}

std::vector<std::filesystem::path> write_hf_weights(const ModelConfig& model, HfArch arch,
                                                    const ParamRegistry& registry, const float* params,
                                                    const std::filesystem::path& dir,
                                                    const HfWeightsWriteOptions& options) {
  if (options.dtype != "BF16" && options.dtype != "F32")
    throw SafetensorsError("write_hf_weights: dtype " + options.dtype + " (expected BF16 or F32)");
  if (model.parallel_residual) {
    for (const ParamEntry& e : registry) {
      if (!is_post_norm(e.name)) continue;
      const ParamEntry& in = registry.at(input_norm_of(e.name));
      if (std::memcmp(params + e.offset, params + in.offset, static_cast<size_t>(e.numel()) * sizeof(float)) != 0)
        throw HfConfigError("model.parallel_residual: " + e.name + " differs from " + in.name +
                            "; HF StableLM's parallel block normalises the MLP input with input_layernorm, so "
                            "only models whose two norms are equal in every layer can be exported");
    }
  }
  const std::vector<HfTensorMap> map = hf_tensor_map(model, arch, registry);
  const bool bf16_out = options.dtype == "BF16";
  std::vector<std::vector<std::byte>> storage;  // converted copies (and zeros) the spans point into
  storage.reserve(map.size());
  std::vector<SafetensorToWrite> tensors;
  for (const HfTensorMap& t : map) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    const auto count = static_cast<size_t>(n);
    const float* src = t.kiln_name.empty() ? nullptr : params + registry.at(t.kiln_name).offset;
    std::span<const std::byte> bytes;
    if (!bf16_out && src) {
      bytes = std::as_bytes(std::span<const float>(src, count));
    } else {
      auto& buf = storage.emplace_back(count * (bf16_out ? 2 : 4), std::byte{0});  // zeros unless filled
      if (src) to_bf16(src, reinterpret_cast<bf16*>(buf.data()), count);
      bytes = buf;
    }
    tensors.push_back({t.hf_name, options.dtype, t.shape, bytes});
  }
  return write_safetensors_dir(dir, tensors, options.max_shard_bytes,
                               {{"format", "pt"}});  // "pt": transformers checks for it
}

void read_hf_weights(const ModelConfig& model, HfArch arch, const SafetensorsDir& weights,
                     const ParamRegistry& registry, float* params) {
  const std::vector<HfTensorMap> map = hf_tensor_map(model, arch, registry);
  std::set<std::string> expected;
  std::vector<std::string> problems;
  for (const HfTensorMap& t : map) {
    expected.insert(t.hf_name);
    if (!weights.contains(t.hf_name)) {
      problems.push_back("tensor '" + t.hf_name + "' " + shape_text(t.shape) + " is missing");
    } else if (weights.info(t.hf_name).shape != t.shape) {
      problems.push_back("tensor '" + t.hf_name + "' in " + weights.file_of(t.hf_name).path().filename().string() +
                         " has shape " + shape_text(weights.info(t.hf_name).shape) + ", expected " +
                         shape_text(t.shape));
    }
  }
  const bool tied_head = model.tied_embeddings && weights.contains("lm_head.weight");
  for (const std::string& name : weights.names()) {
    if (expected.count(name) || ends_with(name, "rotary_emb.inv_freq")) continue;
    if (name == "lm_head.weight" && model.tied_embeddings) continue;  // compared with the embedding below
    problems.push_back("tensor '" + name + "' in " + weights.file_of(name).path().filename().string() +
                       " has no place in kiln's " + std::string(hf_architecture_name(arch)) + " model");
  }
  if (!problems.empty()) {
    std::string msg = weights.dir().string() + ": the weights do not match config.json:";
    for (const auto& p : problems) msg += "\n  - " + p;
    throw SafetensorsError(msg);
  }

  for (const ParamEntry& e : registry) {
    // A kiln-only second norm of a parallel block starts as the input norm HF applies to both branches.
    const std::string source = model.parallel_residual && is_post_norm(e.name) ? input_norm_of(e.name) : e.name;
    weights.read_f32(source, dims(e.shape), std::span<float>(params + e.offset, static_cast<size_t>(e.numel())));
  }
  if (tied_head) {
    const ParamEntry& embed = registry.at("model.embed_tokens.weight");
    std::vector<float> head(static_cast<size_t>(embed.numel()));
    weights.read_f32("lm_head.weight", dims(embed.shape), head);
    if (std::memcmp(head.data(), params + embed.offset, head.size() * sizeof(float)) != 0)
      throw SafetensorsError(weights.dir().string() + ": config.json ties the embeddings, but lm_head.weight differs "
                             "from model.embed_tokens.weight");
  }
}

}  // namespace kiln::hf
