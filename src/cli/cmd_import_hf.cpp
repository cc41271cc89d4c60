// kiln import-hf: a Hugging Face StableLM/Llama model directory → a kiln checkpoint at step 0 and
// the resolved config to continue pre-training from it (hf/hf_checkpoint.h).
//
// Exit codes: 2 for input kiln cannot take (an unsupported config.json key or value, malformed or
// mismatched safetensors, an invalid base config); 1 for I/O and checkpoint failures.
#include <fmt/core.h>

#include "cli/common.h"
#include "hf/hf_checkpoint.h"
#include "hf/safetensors.h"

namespace kiln::cli {

void add_import_hf_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("import-hf", "Turn a Hugging Face StableLM/Llama model directory into a kiln checkpoint");
  struct Args {
    std::string dir, out, base;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("dir", args->dir, "Hugging Face model directory (config.json + safetensors)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--output", args->out, "Checkpoint directory to create (gets step-00000000/, latest, config.yml)")
      ->required();
  cmd->add_option("--config", args->base, "Run config to take everything but the model from (optimizer, data, …)")
      ->check(CLI::ExistingFile);
  cmd->callback([&action, args] {
    action = [args] {
      hf::HfReadOptions options;
      if (!args->base.empty()) options.base_config = args->base;
      std::filesystem::path checkpoint;
      try {
        checkpoint = hf::import_hf_checkpoint(args->dir, args->out, options);
      } catch (const hf::HfConfigError& e) {
        fmt::print(stderr, "kiln: error: {}\n", e.what());
        return kExitBadInput;
      } catch (const hf::SafetensorsError& e) {
        fmt::print(stderr, "kiln: error: {}\n", e.what());
        return kExitBadInput;
      }
      const auto config = std::filesystem::path(args->out) / "config.yml";
      fmt::print("imported {} as {}\nconfig: {}\ncontinue pre-training with: kiln train {}\n", args->dir,
                 checkpoint.string(), config.string(), config.string());
      return 0;
    };
  });
}

}  // namespace kiln::cli
