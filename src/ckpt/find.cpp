// find_checkpoint, verify_checkpoint and read_trainer_state (checkpoint.h): choosing what to
// resume from, and reading its small state.
#include <algorithm>
#include <system_error>
#include <utility>
#include <vector>

#include "ckpt/checkpoint.h"
#include "ckpt/fs.h"
#include "ckpt/manifest.h"
#include "ckpt/names.h"
#include "ckpt/verify.h"

namespace kiln {

using namespace ckpt;

void verify_checkpoint(const std::filesystem::path& checkpoint) {
  std::error_code ec;
  if (!std::filesystem::is_directory(checkpoint, ec))
    throw CheckpointError(checkpoint.string() + ": not a checkpoint directory (missing)");
  verify_all_files(checkpoint, read_manifest(checkpoint));
}

namespace {

// Finished checkpoints in dir, newest first.
std::vector<std::pair<int64_t, std::filesystem::path>> step_dirs(const std::filesystem::path& dir) {
  std::vector<std::pair<int64_t, std::filesystem::path>> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (auto step = parse_step_dir_name(e.path().filename().string()); step && e.is_directory(ec))
      out.emplace_back(*step, e.path());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

// The directory `latest` names, or nullopt (with a warning when the marker is there but unusable).
std::optional<std::filesystem::path> latest_marker(const std::filesystem::path& dir,
                                                   const std::function<void(const std::string&)>& warn) {
  const std::filesystem::path marker = dir / kLatest;
  std::error_code ec;
  if (!std::filesystem::exists(marker, ec)) return std::nullopt;
  std::string name;
  try {
    name = read_text_file(marker);
  } catch (const CheckpointError& e) {
    warn(std::string(e.what()) + "; looking for the newest valid checkpoint instead");
    return std::nullopt;
  }
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' ')) name.pop_back();
  if (!parse_step_dir_name(name)) {
    warn(marker.string() + ": \"" + name + "\" is not a checkpoint name; looking for the newest valid checkpoint instead");
    return std::nullopt;
  }
  return dir / name;
}

}  // namespace

std::optional<std::filesystem::path> find_checkpoint(const std::filesystem::path& dir, const std::string& spec,
                                                     const std::function<void(const std::string&)>& warn) {
  if (spec == "none") return std::nullopt;
  if (spec != "auto") {
    verify_checkpoint(spec);  // an explicitly named checkpoint must be valid: no silent fallback
    return std::filesystem::path(spec);
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return std::nullopt;
  const auto latest = latest_marker(dir, warn);
  if (latest) {
    try {
      verify_checkpoint(*latest);
      return latest;
    } catch (const CheckpointError& e) {
      warn(std::string("latest checkpoint is not usable: ") + e.what() + "; trying older ones");
    }
  }
  for (const auto& [step, path] : step_dirs(dir)) {
    if (latest && path == *latest) continue;  // already reported
    try {
      verify_checkpoint(path);
      return path;
    } catch (const CheckpointError& e) {
      warn(std::string("skipping checkpoint: ") + e.what());
    }
  }
  return std::nullopt;
}

TrainerState read_trainer_state(const std::filesystem::path& checkpoint) { return read_manifest(checkpoint).trainer; }

}  // namespace kiln
