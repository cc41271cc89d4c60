// kiln: the one executable. Subcommands live in cmd_*.cpp; this file wires them up.
#include <CLI/CLI.hpp>

#include "cli/common.h"
#include "log/log.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: pre-training for GPT-NeoX-style decoders (Stable LM 2, StableLM-3B-4E1T, BTLM)", "kiln"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  std::string level = "info";
  app.add_option("--log-level", level, "trace | debug | info | warn | error")->capture_default_str();

  int exit_code = 0;
  kiln::cli::add_train_command(app, exit_code);
  kiln::cli::add_plan_command(app, exit_code);
  kiln::cli::add_config_command(app, exit_code);
  kiln::cli::add_version_command(app, exit_code);

  app.parse_complete_callback([&] {
    kiln::cli::run_guarded(exit_code, [&] {
      kiln::init_logging({.level = kiln::parse_log_level(level), .rank = kiln::detect_rank()});
      return 0;
    });
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kiln::cli::kExitBadInput;
  }
  return exit_code;
}
