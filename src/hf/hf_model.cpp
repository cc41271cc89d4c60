#include "hf/hf_model.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "config/emit.h"
#include "config/loader.h"
#include "hf/hf_weights.h"
#include "hf/safetensors.h"
#include "model/param_names.h"
#include "util/atomic_file.h"

namespace kiln::hf {
namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw HfConfigError(path.string() + ": cannot open (a Hugging Face model directory has a config.json)");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw HfConfigError(path.string() + ": not valid JSON: " + e.what());
  }
}

// The directory's own name, for a default run name ("stablelm-tiny/" → "stablelm-tiny").
std::string dir_name(const std::filesystem::path& dir) {
  const auto abs = std::filesystem::absolute(dir).lexically_normal();
  std::string name = abs.filename().string();
  if (name.empty()) name = abs.parent_path().filename().string();
  return name.empty() ? "hf-import" : name;
}

// config.json's eos_token_id when it is one integer (HF also allows a list), for data.eod_token_id.
std::optional<int64_t> eos_id_of(const nlohmann::json& c) {
  const auto it = c.find("eos_token_id");
  if (it == c.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

LoadedConfig run_config(const HfImportedConfig& imported, const std::optional<int64_t>& eos_id,
                        const std::filesystem::path& dir, const HfReadOptions& options) {
  YAML::Node root;
  YAML::Node model = YAML::Clone(imported.model);
  if (options.base_config) {
    const LoadedConfig base = load_config(*options.base_config);
    root = config_to_yaml(base.config);
    model["seq_length"] = base.config.model.seq_length;
    model["init"] = YAML::Clone(root["model"]["init"]);
  } else {
    root["train"]["steps"] = 1;
    root["train"]["name"] = dir_name(dir);
  }
  root["model"] = model;
  // The model's end-of-text id comes with it (continued pre-training packs documents with it).
  if (eos_id) root["data"]["eod_token_id"] = *eos_id;
  return load_config_tree(root, (dir / "config.json").string(), {}, ".");
}

}  // namespace

HfModel read_hf_model(const std::filesystem::path& dir, const HfReadOptions& options) {
  const auto config_path = dir / "config.json";
  const nlohmann::json json = read_json(config_path);
  const HfImportedConfig imported = model_from_hf_config(json, config_path.string());
  HfModel out;
  out.arch = imported.arch;
  out.config = run_config(imported, eos_id_of(json), dir, options).config;
  const ParamRegistry registry = make_param_registry(out.config.model);
  const SafetensorsDir weights(dir);
  out.params.assign(static_cast<size_t>(registry.total_numel()), 0.0f);
  read_hf_weights(out.config.model, out.arch, weights, registry, out.params.data());
  return out;
}

void write_hf_model(const Config& config, const float* params, const std::filesystem::path& dir,
                    const HfWriteOptions& options) {
  if (options.dtype != "bf16" && options.dtype != "fp32")
    throw HfConfigError("--dtype " + options.dtype + ": expected bf16 or fp32");
  HfExportOptions export_options;
  export_options.torch_dtype = options.dtype == "bf16" ? "bfloat16" : "float32";
  if (config.data.eod_token_id) export_options.bos_token_id = export_options.eos_token_id = *config.data.eod_token_id;
  // Both checks before anything is written: an unexportable model leaves no directory behind.
  const HfArch arch = hf_arch_for(config.model);
  const nlohmann::ordered_json hf_config = hf_config_json(config.model, export_options);

  for (const char* existing : {"config.json", "model.safetensors", "model.safetensors.index.json"}) {
    if (std::filesystem::exists(dir / existing))
      throw HfConfigError((dir / existing).string() + " already exists; export into an empty directory");
  }
  std::filesystem::create_directories(dir);
  const ParamRegistry registry = make_param_registry(config.model);
  write_hf_weights(config.model, arch, registry, params, dir,
                   {options.dtype == "bf16" ? "BF16" : "F32", options.max_shard_bytes});

  nlohmann::ordered_json generation = {{"_from_model_config", true}};
  if (export_options.bos_token_id) generation["bos_token_id"] = *export_options.bos_token_id;
  if (export_options.eos_token_id) generation["eos_token_id"] = *export_options.eos_token_id;
  write_file_atomic(dir / "generation_config.json", generation.dump(2) + "\n");
  for (const auto& [name, contents] : options.extra_files) write_file_atomic(dir / name, contents);
  // config.json last: a directory with a config.json is a complete export.
  write_file_atomic(dir / "config.json", hf_config.dump(2) + "\n");
}

}  // namespace kiln::hf
