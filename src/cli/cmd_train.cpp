// kiln train: checks the config, builds the trainer, then creates the run directory (resolved
// config + metrics) and trains. Nothing is written when the config or the build cannot run it.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <optional>

#include "cli/common.h"
#include "cli/resume_changes.h"
#include "config/emit.h"
#include "plan/plan_report.h"
#include "plan/planner.h"
#include "log/log.h"
#include "train/run_dir.h"
#include "train/trainer.h"
#include "dist/fail_fast.h"
#include "dist/mpi_session.h"
#include "dist/process_grid.h"
#include "dist/startup_check.h"
#include "ckpt/checkpoint.h"

namespace kiln::cli {
namespace {

// checkpoint.resume: the checkpoint to continue from, or empty. Rank 0 validates (reading every
// file) and tells the others, so all ranks resume from the same one.
std::filesystem::path find_resume_point(const Config& config, ProcessGrid& grid) {
  std::string found;
  if (grid.world_rank == 0 && config.checkpoint.resume != "none") {
    const auto dir = checkpoint_directory(config);
    if (config.checkpoint.resume != "auto" || std::filesystem::exists(dir)) {
      const auto path = find_checkpoint(dir, config.checkpoint.resume,
                                        [](const std::string& why) { spdlog::warn("checkpoint skipped: {}", why); });
      if (path) found = path->string();
    }
  }
  uint64_t n = found.size();
  grid.world->broadcast(&n, 1, CommDType::uint64, 0);
  found.resize(n);
  grid.world->broadcast(found.data(), n, CommDType::byte, 0);
  return found;
}

// Every key a resume changes, and what that does to the learning rate, as warnings in the log.
void log_resume_changes(const ResumeChanges& c, const std::filesystem::path& checkpoint, bool complete,
                        const RunDirectory& run) {
  if (!c.keys.empty()) {
    spdlog::warn("resuming from {} (step {}) with a config that differs from the checkpoint's in {} key{}:",
                 checkpoint.string(), c.step, c.keys.size(), c.keys.size() == 1 ? "" : "s");
    for (const auto& k : c.keys) spdlog::warn("  {}", k);
  }
  if (!c.lr.empty()) spdlog::warn("{}", c.lr);
  if (complete && !c.keys.empty())
    spdlog::warn("none of this applies: the run is complete at step {}, so nothing is trained and its recorded "
                 "config is left as it is", c.step);
  else if (!complete && run.config_file.filename() != "config.yml")
    spdlog::info("this segment's config is recorded in {}", run.config_file.string());
}

// What `kiln train` would do with this config, short of training: the data opened as the run
// would open it, and whether it would start, resume (from which step) or refuse its run directory.
// Exit 2 when the run would fail on either.
int dry_run_checks(const Config& config) {
  int problems = 0;
  try {
    check_training_data(config);
    fmt::print("data: ok\n");
  } catch (const std::exception& e) {
    fmt::print(stderr, "kiln train --dry-run: data: {}\n", e.what());
    ++problems;
  }
  const std::string run = run_directory_path(config).string();
  try {
    ProcessGrid single = ProcessGrid::single();
    const std::filesystem::path from = find_resume_point(config, single);
    if (!from.empty()) {
      const int64_t step = read_trainer_state(from).step;
      if (step >= config.train.steps)
        fmt::print("would train nothing: {} is complete at step {} of train.steps = {}\n", run, step, config.train.steps);
      else
        fmt::print("would resume {} from step {} ({})\n", run, step, from.string());
    } else if (holds_run(config)) {
      fmt::print(stderr, "kiln train --dry-run: would refuse {}: it already holds a run and has no valid checkpoint "
                 "to resume from\n", run);
      ++problems;
    } else {
      fmt::print("would start a new run in {}{}\n", run,
                 config.checkpoint.init_from.empty() ? "" : " from the weights of " + config.checkpoint.init_from);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "kiln train --dry-run: checkpoint: {}\n", e.what());
    ++problems;
  }
  return problems ? kExitBadInput : 0;
}

int train(const Config& config, const std::string& config_file, bool under_mpi) {
  ProcessGrid grid = under_mpi ? make_process_grid(static_cast<int>(config.parallel.tensor),
                                                   static_cast<int>(config.parallel.data))
                               : ProcessGrid::single();
  if (grid.world_size > 1) {
    // Ranks that disagree would train silently wrong or hang in mismatched collectives.
    check_same_everywhere(*grid.world, "resolved config", resolved_config_text(config, "rank check"));
    check_same_everywhere(*grid.world, "kiln executable", executable_fingerprint());
  }
  Trainer trainer(config, &grid);  // every check and allocation before the run directory exists
  RunOptions options{{}, checkpoint_directory(config), find_resume_point(config, grid)};
  if (options.resume_from.empty() && !config.checkpoint.init_from.empty()) {
    // Validated (every file's checksum) before anything is written; a bad checkpoint stops here.
    if (grid.world_rank == 0)
      find_checkpoint({}, config.checkpoint.init_from, [](const std::string& why) { spdlog::warn("{}", why); });
    options.init_from = config.checkpoint.init_from;
    options.init_optimizer = config.checkpoint.init_optimizer;
  }
  std::filesystem::path metrics_file;
  if (grid.world_rank == 0) {
    const std::string header = "resolved config of this run, from " + config_file;
    std::optional<ResumeChanges> changes;
    if (!options.resume_from.empty()) changes = resume_changes(options.resume_from, config);
    // A complete run trains nothing, so it records no new config either (its config.yml stays).
    const bool complete = changes && changes->step >= config.train.steps;
    RunDirectory run;
    if (!changes) run = create_run_directory(config, header);
    else if (!complete) run = reopen_run_directory(config, header, changes->step);
    else run.path = run_directory_path(config), run.metrics_file = run.path / config.logging.metrics_file;
    // From here on the run's own logging settings apply, with a copy of the log in the run directory.
    init_logging({.level = config.logging.level,
                  .rank = grid.world_rank,
                  .world_size = grid.world_size,
                  .all_ranks = config.logging.all_ranks,
                  .file = run.path / "train.log"});
    spdlog::info("run directory {}", run.path.string());
    if (changes) log_resume_changes(*changes, options.resume_from, complete, run);
    options.metrics_file = run.metrics_file;
    options.tensorboard_dir = run.path / "tensorboard";  // tensorboard --logdir runs/ finds it
  } else {
    init_logging({.level = config.logging.level,
                  .rank = grid.world_rank,
                  .world_size = grid.world_size,
                  .all_ranks = config.logging.all_ranks});
  }
  grid.world->barrier();  // the run directory exists before any rank writes a checkpoint into it
  const TrainSummary summary = trainer.run(options);
  if (summary.stop_signal == SIGINT) return 128 + SIGINT;  // Ctrl-C: what shells expect, after the save
  return summary.skipped_steps == summary.steps - summary.first_step && summary.steps > summary.first_step ? kExitFailure
                                                                                                        : 0;
}

}  // namespace

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
        return dry_run_checks(loaded.config);
      }
      // Under mpirun or srun every rank runs this; alone, no MPI is touched at all.
      std::optional<MpiSession> mpi;
      if (launched_under_mpi()) mpi.emplace();
      return run_fail_fast([&] { return train(loaded.config, args->config.file, mpi.has_value()); });
    };
  });
}

}  // namespace kiln::cli
