// The run directory: <train.output_dir>/<train.name>, holding the resolved config and the metrics.
//
// Created only after the config is valid and the model is built, so a bad config leaves nothing
// behind. An existing directory is never reused silently: a new run refuses a directory that
// already holds a run; a resumed run (a checkpoint was found) continues in it, appending to its
// metrics. A run's recorded config is never overwritten: config.yml is the config its first
// segment ran, and a resume whose resolved config differs from the one recorded for the steps
// before it adds config-from-step-NNNNNNNN.yml, the config of the segment that starts there.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "config/config.h"

namespace kiln {

struct RunDirectory {
  std::filesystem::path path;
  std::filesystem::path config_file;   // config.yml: the resolved config, written atomically
  std::filesystem::path metrics_file;  // logging.metrics_file inside path
};

// Whether the run directory already holds a run (a config.yml or the metrics file), which a new
// run refuses.
bool holds_run(const Config& config);
// Creates the directory and writes config.yml. Throws std::runtime_error naming the directory
// when it already holds a run (a config.yml or the metrics file) or cannot be created.
RunDirectory create_run_directory(const Config& config, const std::string& config_header);
// For a run resumed at `from_step`: creates the directory if needed, writes config.yml if there is
// none, else config-from-step-<from_step>.yml when the resolved config differs (comments aside)
// from the latest recorded one at or before from_step; never refuses. config_file is the file
// that records the config this segment runs.
RunDirectory reopen_run_directory(const Config& config, const std::string& config_header, int64_t from_step);
// config-from-step-NNNNNNNN.yml
std::string segment_config_name(int64_t from_step);
// <train.output_dir>/<train.name>, and the checkpoint directory: checkpoint.dir, or
// <run dir>/checkpoints when that is empty.
std::filesystem::path run_directory_path(const Config& config);
std::filesystem::path checkpoint_directory(const Config& config);

}  // namespace kiln
