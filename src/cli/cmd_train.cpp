// kiln train: checks the config, builds the trainer, then creates the run directory (resolved
// config + metrics) and trains. Nothing is written when the config or the build cannot run it.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "cli/common.h"
#include "config/emit.h"
#include "plan/plan_report.h"
#include "plan/planner.h"
#include "log/log.h"
#include "train/run_dir.h"
#include "train/trainer.h"

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
      Trainer trainer(loaded.config);  // every check and allocation before the run directory exists
      const RunDirectory run = create_run_directory(loaded.config, "resolved config of this run, from " + args->config.file);
      // From here on the run's own logging settings apply, with a copy of the log in the run directory.
      init_logging({.level = loaded.config.logging.level,
                    .rank = detect_rank(),
                    .all_ranks = loaded.config.logging.all_ranks,
                    .file = run.path / "train.log"});
      spdlog::info("run directory {}", run.path.string());
      const TrainSummary summary = trainer.run(run.metrics_file);
      return summary.skipped_steps == summary.steps ? kExitFailure : 0;
    };
  });
}

}  // namespace kiln::cli
