#include "train/run_dir.h"

#include <stdexcept>

#include "config/emit.h"
#include "util/atomic_file.h"

namespace kiln {

RunDirectory create_run_directory(const Config& config, const std::string& config_header) {
  RunDirectory run;
  run.path = std::filesystem::path(config.train.output_dir) / config.train.name.value();
  run.config_file = run.path / "config.yml";
  run.metrics_file = run.path / config.logging.metrics_file;
  if (std::filesystem::exists(run.config_file) || std::filesystem::exists(run.metrics_file))
    throw std::runtime_error("run directory " + run.path.string() +
                             " already holds a run; choose another train.name or train.output_dir, or remove it "
                             "(resuming a run arrives with checkpoints)");
  std::error_code ec;
  std::filesystem::create_directories(run.path, ec);
  if (ec) throw std::runtime_error("cannot create run directory " + run.path.string() + ": " + ec.message());
  write_file_atomic(run.config_file, resolved_config_text(config, config_header));
  return run;
}

}  // namespace kiln
