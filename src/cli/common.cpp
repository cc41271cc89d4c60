#include "cli/common.h"

#include <fmt/core.h>

namespace kiln::cli {

void add_config_args(CLI::App* app, ConfigArgs& args) {
  app->add_option("config", args.file, "Run config (YAML)")->required()->check(CLI::ExistingFile);
  app->add_option("--set", args.sets, "Override a config key after all files: --set optimizer.lr=3e-4 (repeatable)")
      ->type_name("KEY=VALUE");
}

std::vector<Override> parse_overrides(const std::vector<std::string>& sets) {
  std::vector<Override> out;
  for (const auto& s : sets) out.push_back(parse_override(s));
  return out;
}

LoadedConfig load(const ConfigArgs& args) { return load_config(args.file, parse_overrides(args.sets)); }

void run_guarded(int& exit_code, const std::function<int()>& body) {
  try {
    exit_code = body();
  } catch (const ConfigError& e) {
    const auto& ds = e.diagnostics();
    fmt::print(stderr, "kiln: config error{}:\n", ds.size() > 1 ? fmt::format("s ({})", ds.size()) : "");
    for (const auto& d : ds) fmt::print(stderr, "  {}\n", d.text());
    exit_code = kExitBadInput;
  } catch (const std::exception& e) {
    fmt::print(stderr, "kiln: error: {}\n", e.what());
    exit_code = kExitFailure;
  }
}

}  // namespace kiln::cli
