// kiln: the one executable. Subcommands live in cmd_*.cpp; this file parses the command line,
// sets up logging, then runs the chosen subcommand.
#include <CLI/CLI.hpp>

#include "cli/common.h"
#include "cli/openmp_defaults.h"
#include "log/log.h"

int main(int argc, char** argv) {
  kiln::cli::ensure_openmp_wait_policy(argv);
  CLI::App app{"kiln: pre-training for GPT-NeoX-style decoders (Stable LM 2, StableLM-3B-4E1T, BTLM)", "kiln"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
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
