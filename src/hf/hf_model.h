// A Hugging Face model directory (config.json + safetensors weights) ↔ a kiln config and its
// global fp32 parameters. The checkpoint commands (hf_checkpoint.h) are this plus checkpoint I/O;
// tests use it directly to run kiln's decoder on an HF model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "hf/hf_config.h"

namespace kiln::hf {

struct HfReadOptions {
  // A kiln run config supplying everything but the model: optimizer, schedule, data, … and
  // model.seq_length and model.init (its other model keys are replaced by config.json's). Without
  // one, those are kiln's defaults, model.seq_length is max_position_embeddings and train.steps 1.
  std::optional<std::filesystem::path> base_config;
};

struct HfModel {
  HfArch arch = HfArch::stablelm;
  Config config;              // loaded and validated: optionals engaged
  std::vector<float> params;  // fp32 in make_param_registry(config.model)'s layout (the tp = 1 layout)
};

// Reads `dir`/config.json and its weights (model.safetensors or the sharded index). Throws
// HfConfigError (unsupported config), ConfigError (the resulting kiln config is invalid, e.g. with
// the base config's parallel layout) or SafetensorsError (weights), each naming file and key/tensor.
HfModel read_hf_model(const std::filesystem::path& dir, const HfReadOptions& options = {});

struct HfWriteOptions {
  std::string dtype = "bf16";    // of the weights: "bf16" or "fp32"
  uint64_t max_shard_bytes = 0;  // 0: one model.safetensors; else shards and an index
  // More files for the directory (name, contents), e.g. tokenizer.json and tokenizer_config.json;
  // written after the weights and before config.json, which stays the last file written.
  std::vector<std::pair<std::string, std::string>> extra_files;
};

// Writes config.json, generation_config.json and the weights of `config.model` with `params`
// (fp32, make_param_registry(config.model)'s layout) into `dir`, which is created if needed and
// must not already hold a config.json or model weights (nothing is overwritten). bos/eos token ids
// are data.eod_token_id when the config sets one (Stable LM's <|endoftext|> is both). Throws
// HfConfigError when HF StableLM/Llama cannot represent the model (hf_config.h, hf_weights.h).
void write_hf_model(const Config& config, const float* params, const std::filesystem::path& dir,
                    const HfWriteOptions& options = {});

}  // namespace kiln::hf
