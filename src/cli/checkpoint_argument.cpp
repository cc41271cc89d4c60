#include "cli/checkpoint_argument.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <system_error>
#include <vector>

#include "ckpt/checkpoint.h"
#include "ckpt/names.h"

namespace kiln::cli {
namespace {

namespace fs = std::filesystem;

bool is_checkpoint(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p / "manifest.json", ec);
}

// The step-* folders in `dir`, oldest first.
std::vector<std::string> checkpoints_in(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_directory(ec) && ckpt::parse_step_dir_name(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string listing(const fs::path& dir) {
  const std::vector<std::string> names = checkpoints_in(dir);
  if (names.empty()) return "";
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return fmt::format("; checkpoints in {}: {}", dir.string(), list);
}

fs::path newest_in(const fs::path& dir) {
  const auto found = find_checkpoint(dir, "auto", [](const std::string& why) { spdlog::warn("checkpoint skipped: {}", why); });
  if (!found) throw CheckpointArgumentError(fmt::format("no valid checkpoint in {}{}", dir.string(), listing(dir)));
  return *found;
}

}  // namespace

fs::path resolve_checkpoint_argument(const fs::path& given) {
  std::error_code ec;
  if (is_checkpoint(given)) return given;
  if (given.filename() == "latest" && fs::is_regular_file(given, ec)) return newest_in(given.parent_path());
  if (fs::is_directory(given, ec)) {
    if (fs::exists(given / "latest", ec) || !checkpoints_in(given).empty()) return newest_in(given);
    if (fs::is_directory(given / "checkpoints", ec)) return newest_in(given / "checkpoints");
    throw CheckpointArgumentError(fmt::format(
        "{} is neither a checkpoint (no manifest.json), a checkpoint directory nor a run directory (no checkpoints/)",
        given.string()));
  }
  // Missing: say what its folder holds (a pruned step-* leaves its siblings).
  const fs::path parent = given.has_parent_path() ? given.parent_path() : fs::path(".");
  throw CheckpointArgumentError(fmt::format("{} does not exist{}", given.string(),
                                            fs::is_directory(parent, ec) ? listing(parent) : ""));
}

}  // namespace kiln::cli
