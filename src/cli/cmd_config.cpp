// kiln config show | check | reference | import-neox
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "cli/common.h"
#include "config/emit.h"
#include "config/neox_import.h"
#include "util/atomic_file.h"

namespace kiln::cli {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void add_show(CLI::App* parent, Action& action) {
  auto* cmd = parent->add_subcommand("show", "Print the resolved config: includes, overrides, defaults and derived values");
  auto args = std::make_shared<ConfigArgs>();
  add_config_args(cmd, *args);
  cmd->callback([&action, args] {
    action = [args] {
      const LoadedConfig loaded = load(*args);
      std::string header = "resolved from " + join(loaded.files);
      for (const auto& s : args->sets) header += "\n--set " + s;
      fmt::print("{}", resolved_config_text(loaded.config, header));
      return 0;
    };
  });
}

void add_check(CLI::App* parent, Action& action) {
  auto* cmd = parent->add_subcommand("check", "Validate a config; exit 0 when it is valid, 2 with every problem listed otherwise");
  auto args = std::make_shared<ConfigArgs>();
  add_config_args(cmd, *args);
  cmd->callback([&action, args] {
    action = [args] {
      const LoadedConfig loaded = load(*args);
      fmt::print("{}: ok ({} file{})\n", args->file, loaded.files.size(), loaded.files.size() == 1 ? "" : "s");
      return 0;
    };
  });
}

void add_reference(CLI::App* parent, Action& action) {
  auto* cmd = parent->add_subcommand("reference", "Print the config reference (Markdown) generated from the schema");
  auto out = std::make_shared<std::string>();
  cmd->add_option("-o,--output", *out, "Write to this file instead of stdout");
  cmd->callback([&action, out] {
    action = [out] {
      if (out->empty())
        fmt::print("{}", config_reference_markdown());
      else
        write_file_atomic(*out, config_reference_markdown());
      return 0;
    };
  });
}

void add_import_neox(CLI::App* parent, Action& action) {
  auto* cmd = parent->add_subcommand(
      "import-neox",
      "Convert a GPT-NeoX YAML config into a kiln config. Keys that change the math and that kiln does not "
      "implement are refused by name; the other framework's infrastructure keys are listed and ignored");
  struct Args {
    std::string input, output;
    std::optional<int64_t> vocab_size;
    std::vector<std::string> sets;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("neox_config", args->input, "GPT-NeoX config (YAML/JSON)")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", args->output, "Write the kiln config here (default: stdout)");
  cmd->add_option("--vocab-size", args->vocab_size,
                  "Tokenizer vocabulary size (NeoX configs take it from the tokenizer file)");
  cmd->add_option("--set", args->sets, "Override a kiln key in the result (repeatable)")->type_name("KEY=VALUE");
  cmd->callback([&action, args] {
    action = [args] {
      NeoxImportOptions options;
      options.vocab_size = args->vocab_size;
      const NeoxImport imported = import_neox(args->input, options);
      if (!imported.ignored.empty())
        spdlog::warn("ignored {} GPT-NeoX infrastructure key{} that do not change the math: {}", imported.ignored.size(),
                     imported.ignored.size() == 1 ? "" : "s", join(imported.ignored));
      for (const auto& note : imported.notes) spdlog::info("{}", note);
      // The result goes through the ordinary loader, so it is validated like any kiln config and
      // written fully resolved: its meaning no longer depends on kiln's defaults.
      const auto name = args->output.empty() ? args->input : args->output;
      const LoadedConfig loaded = load_config_tree(imported.config, name, parse_overrides(args->sets));
      std::string header = "kiln config imported from GPT-NeoX config " + args->input;
      for (const auto& s : args->sets) header += "\n--set " + s;
      if (!imported.ignored.empty()) header += "\nignored infrastructure keys: " + join(imported.ignored);
      const std::string text = resolved_config_text(loaded.config, header);
      if (args->output.empty())
        fmt::print("{}", text);
      else
        write_file_atomic(args->output, text);
      return 0;
    };
  });
}

}  // namespace

void add_config_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("config", "Inspect, validate, document and import configs");
  cmd->require_subcommand(1);
  add_show(cmd, action);
  add_check(cmd, action);
  add_reference(cmd, action);
  add_import_neox(cmd, action);
}

}  // namespace kiln::cli
