// kiln train: today it checks the config and prints its plan; the step loop arrives with the
// trainer (issue 3). It never creates a run directory it cannot fill.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "cli/common.h"
#include "config/emit.h"
#include "plan/plan_report.h"
#include "plan/planner.h"

namespace kiln::cli {

void add_train_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("train", "Train a model from a config");
  struct Args {
    ConfigArgs config;
    bool dry_run = false;
  };
  auto args = std::make_shared<Args>();
  add_config_args(cmd, args->config);
  cmd->add_flag("--dry-run", args->dry_run, "Check the config and print the resolved config and plan; train nothing");
  cmd->callback([&action, args] {
    action = [args] {
      const LoadedConfig loaded = load(args->config);
      if (args->dry_run) {
        fmt::print("{}\n{}", resolved_config_text(loaded.config, "resolved config (kiln train --dry-run)"),
                   format_plan(make_plan(loaded.config), loaded.config));
        return 0;
      }
      spdlog::error("this build of kiln has no trainer yet (it lands with the CPU training issue); "
                    "the config is valid: use `kiln train --dry-run` or `kiln plan`");
      return kExitFailure;
    };
  });
}

}  // namespace kiln::cli
