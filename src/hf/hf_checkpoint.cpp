#include "hf/hf_checkpoint.h"

#include <optional>
#include <span>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "ckpt/checkpoint.h"
#include "ckpt/fs.h"
#include "config/emit.h"
#include "config/loader.h"
#include "dist/communicator.h"
#include "model/tensor_parallel.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_file.h"

namespace kiln::hf {
namespace {

// The run's tokenizer (data.tokenizer, a Hugging Face tokenizer.json) travels with the export, with
// a tokenizer_config.json that transformers' AutoTokenizer reads, and supplies the bos/eos id when
// data.eod_token_id is unset. A tokenizer that is not here (the path is the run's, relative to
// where it ran) or not a tokenizer.json (tiktoken ranks) is left out, saying so.
void add_tokenizer_files(Config& config, HfWriteOptions& write) {
  const std::filesystem::path path = config.data.tokenizer;
  if (path.empty()) return;
  if (!std::filesystem::is_regular_file(path)) {
    spdlog::warn("the run's data.tokenizer {} is not here; the export gets no tokenizer files", path.string());
    return;
  }
  const auto tok = Tokenizer::load(path);
  const std::optional<int32_t> eod = tok->eod_token();
  if (!config.data.eod_token_id && eod) config.data.eod_token_id = *eod;
  if (path.extension() != ".json") {
    spdlog::warn("data.tokenizer {} is not a Hugging Face tokenizer.json; the export gets no tokenizer files",
                 path.string());
    return;
  }
  nlohmann::ordered_json tc = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                               {"model_max_length", config.model.seq_length}};
  if (eod && config.data.eod_token_id == *eod) tc["bos_token"] = tc["eos_token"] = "<|endoftext|>";
  write.extra_files.emplace_back("tokenizer.json", ckpt::read_text_file(path));
  write.extra_files.emplace_back("tokenizer_config.json", tc.dump(2) + "\n");
}

}  // namespace

std::filesystem::path import_hf_checkpoint(const std::filesystem::path& hf_dir, const std::filesystem::path& out_dir,
                                           const HfReadOptions& options) {
  HfModel model = read_hf_model(hf_dir, options);
  const TpLayout layout(model.config.model, 0, 1);
  const auto n = static_cast<size_t>(layout.registry().total_numel());
  std::vector<float> masters = model.params, m(n, 0.0f), v(n, 0.0f);

  RankState rank;
  rank.layout = &layout;
  rank.shard_begin = 0;
  rank.shard_end = static_cast<int64_t>(n);
  rank.param_dtype = DType::fp32;
  rank.params = std::as_writable_bytes(std::span<float>(model.params));
  rank.masters = masters;
  rank.m = m;
  rank.v = v;

  TrainerState state;  // step 0: no updates, no data consumed
  state.config_yaml = resolved_config_text(model.config, "imported from " + (hf_dir / "config.json").string());
  SelfCommunicator world("import-hf");
  const std::filesystem::path checkpoint = save_checkpoint({out_dir, 1}, state, rank, world);

  // The config beside it starts a new run from these weights: init_from, not resume (the run's
  // data stream is its own).
  Config run = model.config;
  run.checkpoint.init_from = std::filesystem::absolute(checkpoint).lexically_normal().string();
  write_file_atomic(out_dir / "config.yml",
                    resolved_config_text(run, "kiln import-hf of " + std::filesystem::absolute(hf_dir).string()));
  return checkpoint;
}

void export_hf_checkpoint(const std::filesystem::path& checkpoint, const std::filesystem::path& hf_dir,
                          const HfWriteOptions& options) {
  const TrainerState state = read_trainer_state(checkpoint);
  const LoadedConfig loaded =
      load_config_tree(YAML::Load(state.config_yaml), (checkpoint / "manifest.json").string());
  Config config = loaded.config;
  hf_arch_for(config.model);  // refuse an unexportable model before reading gigabytes
  HfWriteOptions write = options;
  add_tokenizer_files(config, write);

  const TpLayout layout(config.model, 0, 1);
  const auto n = static_cast<size_t>(layout.registry().total_numel());
  std::vector<float> params(n, 0.0f), masters(n, 0.0f);
  RankState rank;
  rank.layout = &layout;
  rank.shard_begin = 0;
  rank.shard_end = static_cast<int64_t>(n);
  rank.param_dtype = DType::fp32;
  rank.params = std::as_writable_bytes(std::span<float>(params));
  rank.masters = masters;
  load_checkpoint(checkpoint, rank, /*weights_only=*/true);
  write_hf_model(config, masters.data(), hf_dir, write);
}

}  // namespace kiln::hf
