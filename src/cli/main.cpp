// kiln: the one executable. Subcommands live in cmd_*.cpp; this file parses the command line,
// sets up logging, then runs the chosen subcommand.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cli/common.h"
#include "cli/openmp_defaults.h"
#include "kiln_version.h"
#include "log/log.h"
#include "util/suggest.h"

namespace {

// The first word of the command line that is not an option or --log-level's value: the
// subcommand the user meant.
const char* first_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--log-level") == 0) {
      ++i;
      continue;
    }
    if (argv[i][0] != '-') return argv[i];
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  kiln::cli::ensure_openmp_wait_policy(argv);
  CLI::App app{"kiln: pre-training for GPT-NeoX-style decoders (Stable LM 2, StableLM-3B-4E1T, BTLM)", "kiln"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  app.set_version_flag("--version", std::string("kiln ") + KILN_VERSION + " (" + KILN_GIT_DESCRIBE + ")");
  // Options a subcommand does not know fall through to here, so --log-level works after it too.
  app.fallthrough();
  std::string level = "info";
  app.add_option("--log-level", level, "Log level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();

  kiln::cli::Action action;
  kiln::cli::add_train_command(app, action);
  kiln::cli::add_plan_command(app, action);
  kiln::cli::add_schedule_command(app, action);
  kiln::cli::add_config_command(app, action);
  kiln::cli::add_version_command(app, action);
  kiln::cli::add_export_hf_command(app, action);
  kiln::cli::add_import_hf_command(app, action);
  kiln::cli::add_report_command(app, action);
  kiln::cli::add_sweep_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // An unknown command: name it and the closest one, instead of "a subcommand is required".
    std::vector<std::string> commands;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      commands.push_back(sub->get_name());
    const char* word = first_word(argc, argv);
    if (word && app.get_subcommands().empty() && std::find(commands.begin(), commands.end(), word) == commands.end()) {
      const auto near = kiln::closest_match(word, commands);
      fmt::print(stderr, "kiln: unknown command '{}'{}; `kiln --help` lists them\n", word,
                 near ? fmt::format(" (did you mean '{}'?)", *near) : "");
      return kiln::cli::kExitBadInput;
    }
    int code = app.exit(e);
    return code == 0 ? 0 : kiln::cli::kExitBadInput;
  }

  int exit_code = 0;
  kiln::cli::run_guarded(exit_code, [&] {
    kiln::init_logging({.level = kiln::parse_log_level(level), .rank = kiln::detect_rank()});
    return 0;
  });
  if (exit_code != 0) return exit_code;
  if (action) kiln::cli::run_guarded(exit_code, action);
  return exit_code;
}
