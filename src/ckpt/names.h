// Names inside a checkpoint directory: step-NNNNNNNN (eight digits, zero-padded, so that names
// sort by step up to 10^8 steps; larger steps simply have more digits), its temporaries
// step-NNNNNNNN.tmp-<hex id>, rank files rank-TTTTT-DDDDD.bin, and the `latest` marker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::ckpt {

inline constexpr std::string_view kLatest = "latest";
inline constexpr std::string_view kManifest = "manifest.json";

std::string step_dir_name(int64_t step);
// The step of a finished checkpoint's directory name ("step-" and digits only), else nullopt.
std::optional<int64_t> parse_step_dir_name(std::string_view name);
// Whether `name` is a temporary left by a save (step-….tmp-…).
bool is_temporary_name(std::string_view name);
std::string rank_file_name(int tp_rank, int dp_rank);

}  // namespace kiln::ckpt
