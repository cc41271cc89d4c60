// kiln export-hf: a kiln checkpoint → a Hugging Face model directory (hf/hf_checkpoint.h).
//
// The checkpoint may be named as a run directory, a checkpoint directory or its `latest`
// (cli/checkpoint_argument.h). Exit codes: 2 when the model or its files cannot be exported as
// asked (no such checkpoint, listing those that exist; an architecture HF StableLM/Llama cannot
// represent, an existing export in the way, a bad --dtype); 1 for I/O and checkpoint failures.
#include <fmt/core.h>

#include <filesystem>

#include "cli/checkpoint_argument.h"
#include "cli/common.h"
#include "hf/hf_checkpoint.h"
#include "hf/safetensors.h"

namespace kiln::cli {

void add_export_hf_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("export-hf", "Write a checkpoint as a Hugging Face StableLM/Llama model directory");
  struct Args {
    std::string checkpoint, out, dtype = "bf16";
    uint64_t max_shard_mb = 0;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("checkpoint", args->checkpoint,
                  "A checkpoint (…/step-NNNNNNNN), a checkpoint directory or its `latest` (the newest valid "
                  "checkpoint there), or a run directory")
      ->required();
  cmd->add_option("-o,--output", args->out, "Directory to write config.json and the safetensors weights into")->required();
  cmd->add_option("--dtype", args->dtype, "Dtype of the written weights")
      ->check(CLI::IsMember({"bf16", "fp32"}))
      ->capture_default_str();
  cmd->add_option("--max-shard-mb", args->max_shard_mb, "Shard the weights into files of at most this many MB (0: one file)")
      ->capture_default_str();
  cmd->callback([&action, args] {
    action = [args] {
      std::filesystem::path checkpoint;
      try {
        checkpoint = resolve_checkpoint_argument(args->checkpoint);
        hf::export_hf_checkpoint(checkpoint, args->out, {args->dtype, args->max_shard_mb * 1'000'000});
      } catch (const CheckpointArgumentError& e) {
        fmt::print(stderr, "kiln: error: {}\n", e.what());
        return kExitBadInput;
      } catch (const hf::HfConfigError& e) {
        fmt::print(stderr, "kiln: error: {}\n", e.what());
        return kExitBadInput;
      }
      fmt::print("exported {} to {}\n", checkpoint.string(), args->out);
      return 0;
    };
  });
}

}  // namespace kiln::cli
