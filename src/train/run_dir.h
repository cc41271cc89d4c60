// The run directory: <train.output_dir>/<train.name>, holding the resolved config and the metrics.
//
// Created only after the config is valid and the model is built, so a bad config leaves nothing
// behind. An existing directory is never reused silently: until checkpoints can resume a run,
// a directory that already holds a run is an error that names it.
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

}  // namespace kiln
