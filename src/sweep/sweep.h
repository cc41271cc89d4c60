// Ablation sweeps: a sweep file names a base config, a grid of overrides (the cartesian product)
// and/or a list of explicit runs. Every run's config is loaded and validated before anything runs;
// the runs then go one after another as child `kiln train` processes (see run_sweep), or into a
// Slurm job array script (see slurm_script). The file format is in docs/ablations.md.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/loader.h"

namespace kiln::sweep {

struct SweepRun {
  std::string name;                 // the run's train.name
  std::vector<Override> overrides;  // what `kiln train BASE --set ...` gets, train.name and output_dir included
  Config config;                    // the resolved config of the run
};

struct Sweep {
  std::filesystem::path file;  // the sweep file
  std::filesystem::path base;  // the base config, absolute (the sweep file gives it relative to itself)
  std::string name;            // the prefix of the grid runs' names
  std::vector<SweepRun> runs;  // grid runs in product order (first key slowest), then list runs
};

// Reads, expands and validates a sweep. Every problem (sweep file structure, unknown keys, a value
// that makes an invalid config, duplicate run names) is collected and thrown as one ConfigError,
// each run's problems prefixed with the run's name.
Sweep load_sweep(const std::filesystem::path& file);

// "<prefix>-<key>=<value>-..." with every character outside [A-Za-z0-9._=+-] replaced by '_'.
std::string sanitize_run_name(const std::string& name);

// The metrics file of a run: whether it already holds a record at step == train.steps, and the
// last training loss it holds.
struct RunProgress {
  bool complete = false;
  int64_t last_step = 0;
  std::optional<double> final_loss;
};
RunProgress read_progress(const Config& config);

// The bash script of a Slurm job array (#SBATCH --array=0-(N-1)), one `kiln train` per index.
// `kiln` is the executable to call, `workdir` the directory the runs' relative paths start from.
std::string slurm_script(const Sweep& sweep, const std::string& kiln, const std::filesystem::path& workdir);

// Runs every run (or only `only`, when not empty) one after another as a child process `kiln`
// train, its output going to <run dir>/sweep.log, printing one progress line per run. Finished runs
// are skipped; interrupted ones resume through their checkpoints. Returns 0, or 1 when any failed.
// A SIGINT or SIGTERM is passed on to the running child (which stops after its step, saving a
// checkpoint; a second SIGINT aborts it) and no further run starts; the sweep then returns 130 for
// SIGINT, and for SIGTERM (a preemption) what it would have returned so far.
int run_sweep(const Sweep& sweep, const std::string& kiln, const std::string& only = "");

}  // namespace kiln::sweep
