// The run directory: <train.output_dir>/<train.name>, holding the resolved config and the metrics.
//
// Created only after the config is valid and the model is built, so a bad config leaves nothing
// behind. An existing directory is never reused silently: a new run refuses a directory that
// already holds a run; a resumed run (a checkpoint was found) continues in it, appending to its
// metrics and replacing config.yml with the resolved config it now runs (the checkpoint's
// manifest keeps the config of the run that wrote it).
#pragma once

#include <filesystem>

#include "config/config.h"

namespace kiln {

struct RunDirectory {
  std::filesystem::path path;
  std::filesystem::path config_file;   // config.yml: the resolved config, written atomically
  std::filesystem::path metrics_file;  // logging.metrics_file inside path
};

// Creates the directory and writes config.yml. Throws std::runtime_error naming the directory
// when it already holds a run (a config.yml or the metrics file) or cannot be created.
RunDirectory create_run_directory(const Config& config, const std::string& config_header);
// For a resumed run: creates the directory if needed and (re)writes config.yml; never refuses.
RunDirectory reopen_run_directory(const Config& config, const std::string& config_header);
// <train.output_dir>/<train.name>, and the checkpoint directory: checkpoint.dir, or
// <run dir>/checkpoints when that is empty.
std::filesystem::path run_directory_path(const Config& config);
std::filesystem::path checkpoint_directory(const Config& config);

}  // namespace kiln
