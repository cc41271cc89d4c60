#include "train/run_dir.h"

#include <stdexcept>

#include "config/emit.h"
#include "util/atomic_file.h"

namespace kiln {

namespace {

RunDirectory paths_of(const Config& config) {
  RunDirectory run;
  run.path = run_directory_path(config);
  run.config_file = run.path / "config.yml";
  run.metrics_file = run.path / config.logging.metrics_file;
  return run;
}

RunDirectory make(const Config& config, const std::string& config_header) {
  RunDirectory run = paths_of(config);
  std::error_code ec;
  std::filesystem::create_directories(run.path, ec);
  if (ec) throw std::runtime_error("cannot create run directory " + run.path.string() + ": " + ec.message());
  write_file_atomic(run.config_file, resolved_config_text(config, config_header));
  return run;
}

}  // namespace

std::filesystem::path run_directory_path(const Config& config) {
  return std::filesystem::path(config.train.output_dir) / config.train.name.value();
}

std::filesystem::path checkpoint_directory(const Config& config) {
  if (!config.checkpoint.dir.empty()) return config.checkpoint.dir;
  return run_directory_path(config) / "checkpoints";
}

RunDirectory create_run_directory(const Config& config, const std::string& config_header) {
  const RunDirectory run = paths_of(config);
  if (std::filesystem::exists(run.config_file) || std::filesystem::exists(run.metrics_file))
    throw std::runtime_error("run directory " + run.path.string() +
                             " already holds a run and has no valid checkpoint to resume from; choose another "
                             "train.name or train.output_dir, or remove it");
  return make(config, config_header);
}

RunDirectory reopen_run_directory(const Config& config, const std::string& config_header) {
  return make(config, config_header);
}

}  // namespace kiln
