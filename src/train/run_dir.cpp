#include "train/run_dir.h"

#include <charconv>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "ckpt/fs.h"
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

// The text without its comment lines (the headers name the command's config file, which may be
// spelled differently from one invocation to the next).
std::string without_comments(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line))
    if (line.empty() || line[0] != '#') out += line + "\n";
  return out;
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

bool holds_run(const Config& config) {
  const RunDirectory run = paths_of(config);
  return std::filesystem::exists(run.config_file) || std::filesystem::exists(run.metrics_file);
}

RunDirectory create_run_directory(const Config& config, const std::string& config_header) {
  const RunDirectory run = paths_of(config);
  if (holds_run(config))
    throw std::runtime_error("run directory " + run.path.string() +
                             " already holds a run and has no valid checkpoint to resume from; choose another "
                             "train.name or train.output_dir, or remove it");
  return make(config, config_header);
}

std::string segment_config_name(int64_t from_step) {
  char name[64];
  std::snprintf(name, sizeof name, "config-from-step-%08lld.yml", static_cast<long long>(from_step));
  return name;
}

RunDirectory reopen_run_directory(const Config& config, const std::string& config_header, int64_t from_step) {
  RunDirectory run = paths_of(config);
  if (!std::filesystem::exists(run.config_file)) return make(config, config_header);
  // The config recorded for the steps before this segment: the newest segment file that starts
  // at or before from_step, else config.yml.
  std::filesystem::path latest = run.config_file;
  int64_t latest_step = -1;
  for (const auto& entry : std::filesystem::directory_iterator(run.path)) {
    const std::string name = entry.path().filename().string();
    const std::string_view prefix = "config-from-step-";
    if (!name.starts_with(prefix)) continue;
    int64_t step = -1;
    std::from_chars(name.data() + prefix.size(), name.data() + name.size(), step);
    if (step >= 0 && name == segment_config_name(step) && step <= from_step && step > latest_step)
      latest = entry.path(), latest_step = step;
  }
  const std::string text = resolved_config_text(config, config_header + " (from step " + std::to_string(from_step) + ")");
  if (without_comments(ckpt::read_text_file(latest)) != without_comments(text)) {
    run.config_file = run.path / segment_config_name(from_step);
    write_file_atomic(run.config_file, text);
  } else {
    run.config_file = latest;
  }
  return run;
}

}  // namespace kiln
