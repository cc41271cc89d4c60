// kiln sweep: expands an ablation sweep file, validates every run, then runs them one after
// another as child `kiln train` processes (or lists them, or writes a Slurm job array script).
#include <fmt/core.h>
#include <unistd.h>

#include <filesystem>

#include "cli/common.h"
#include "sweep/sweep.h"
#include "util/atomic_file.h"

namespace kiln::cli {
namespace {

// This executable, for the children: /proc/self/exe, or argv[0]'s resolution when that is missing.
std::string self_executable() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find the kiln executable through /proc/self/exe: " + ec.message());
  return path.string();
}

}  // namespace

void add_sweep_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("sweep", "Run an ablation sweep: a grid and/or list of overrides of one base config");
  struct Args {
    std::string file;
    bool dry_run = false;
    std::string slurm;
    std::string only;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("sweep", args->file, "Sweep file (YAML; see docs/ablations.md)")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--dry-run", args->dry_run, "Validate every run and list the runs with their overrides; train nothing");
  cmd->add_option("--slurm", args->slurm, "Write a Slurm job array script (one run per array index) instead of running")
      ->type_name("OUT.sbatch");
  cmd->add_option("--only", args->only, "Run only the run with this name (every run is still validated)")
      ->type_name("NAME");
  cmd->callback([&action, args] {
    action = [args] {
      const sweep::Sweep s = sweep::load_sweep(args->file);
      if (args->dry_run) {
        fmt::print("sweep {}: {} run{} of {}\n", args->file, s.runs.size(), s.runs.size() == 1 ? "" : "s",
                   s.base.string());
        for (size_t i = 0; i < s.runs.size(); ++i) {
          const auto& run = s.runs[i];
          const auto progress = sweep::read_progress(run.config);
          fmt::print("[{}/{}] {}{}\n", i + 1, s.runs.size(), run.name,
                     progress.complete ? " (complete)"
                     : progress.last_step > 0 ? fmt::format(" (partial: step {})", progress.last_step)
                                              : "");
          for (const auto& o : run.overrides) fmt::print("    {}\n", o.text());
        }
        return 0;
      }
      if (!args->slurm.empty()) {
        write_file_atomic(args->slurm, sweep::slurm_script(s, self_executable(), std::filesystem::current_path()));
        fmt::print("wrote {}: a Slurm job array of {} run{}; submit it with: sbatch {}\n", args->slurm, s.runs.size(),
                   s.runs.size() == 1 ? "" : "s", args->slurm);
        return 0;
      }
      return sweep::run_sweep(s, self_executable(), args->only);
    };
  });
}

}  // namespace kiln::cli
