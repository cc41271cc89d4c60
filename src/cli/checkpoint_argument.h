// A checkpoint named on the command line (kiln export-hf): the checkpoint itself
// (…/step-NNNNNNNN), a checkpoint directory or its `latest` file (the newest valid checkpoint
// there), or a run directory (its checkpoints/ folder, likewise).
//
// A path that is none of these fails with a message that lists the checkpoints that do exist
// nearby — in the folder given, its checkpoints/ folder, or the folder a missing path was meant
// to be in (a checkpoint `keep_last` has pruned leaves its siblings) — so the next command can be
// typed from it.
#pragma once

#include <filesystem>
#include <stdexcept>

namespace kiln::cli {

class CheckpointArgumentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Returns the checkpoint folder. Throws CheckpointArgumentError as above; a checkpoint that is
// found but damaged is reported by find_checkpoint's own errors and warnings.
std::filesystem::path resolve_checkpoint_argument(const std::filesystem::path& given);

}  // namespace kiln::cli
