// kiln's parameters ↔ the tensors of a Hugging Face StableLM / Llama checkpoint.
//
// kiln's global names are HF's (param_names.h), so most tensors map to themselves. The exceptions:
//
//   - Vocabulary: HF gets kiln's PADDED rows (embed_tokens and lm_head are [padded_vocab, d]) and
//     config.json says vocab_size = padded_vocab. Nothing is trimmed, so export → import gives back
//     every element, and the logits of the padded entries (which take part in kiln's softmax too)
//     are the same on both sides. HF's own StableLM checkpoints are padded the same way (50304,
//     100352 rows). Import keeps every HF row: kiln's vocab_size = HF's vocab_size with
//     vocab_pad_multiple = gcd(vocab_size, 128) (hf_config.h), so nothing is added.
//   - LayerNorm without a bias (kiln norm_bias / final_norm_bias false): StableLM's LayerNorms have
//     one, so export writes a zero bias (the same function). Import keeps it as a parameter.
//   - Parallel residual: kiln's block normalises the MLP's input with post_attention_layernorm,
//     HF StableLM's with input_layernorm (it has no second norm). Export therefore requires the
//     two norms of every layer to be equal (true after an import, not after training) and drops
//     the second; import copies input_layernorm into post_attention_layernorm.
//   - Tied embeddings: no lm_head.weight is written; on import an lm_head.weight equal to the
//     embedding is accepted and ignored, a different one refused.
//   - rotary_emb.inv_freq buffers, which older transformers saved, are ignored on import.
// Any other HF tensor without a kiln counterpart is refused by name, and a missing one likewise.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "hf/hf_config.h"
#include "hf/safetensors.h"
#include "tensor/param_registry.h"

namespace kiln::hf {

// One tensor of the HF checkpoint and the kiln tensor holding its values.
struct HfTensorMap {
  std::string hf_name;
  std::string kiln_name;       // empty: all zeros (a StableLM norm bias that kiln's model lacks)
  std::vector<int64_t> shape;  // global; the same on both sides
};

// Every tensor the HF checkpoint of `model` has, in kiln's registration order. `registry` is
// the model's tp = 1 (global) registry.
std::vector<HfTensorMap> hf_tensor_map(const ModelConfig& model, HfArch arch, const ParamRegistry& registry);

struct HfWeightsWriteOptions {
  std::string dtype = "BF16";   // "BF16" (round to nearest even) or "F32"
  uint64_t max_shard_bytes = 0; // 0: one model.safetensors
};

// Writes `params` (fp32, `registry`'s layout) into `dir` as safetensors. Throws HfConfigError when
// the values cannot be represented (a parallel-residual layer whose two norms differ), and
// SafetensorsError for I/O. Returns the files written.
std::vector<std::filesystem::path> write_hf_weights(const ModelConfig& model, HfArch arch,
                                                    const ParamRegistry& registry, const float* params,
                                                    const std::filesystem::path& dir,
                                                    const HfWeightsWriteOptions& options = {});

// Fills `params` (fp32, `registry`'s layout, registry.total_numel() elements; padding is left
// alone) from `weights`. Every tensor is checked before any value is copied: missing tensors,
// tensors kiln has no place for and wrong shapes are all reported in one SafetensorsError.
void read_hf_weights(const ModelConfig& model, HfArch arch, const SafetensorsDir& weights,
                     const ParamRegistry& registry, float* params);

}  // namespace kiln::hf
