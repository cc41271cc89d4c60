// A test seam in save_checkpoint: a function called on every rank at fixed points of the save, so
// that tests can inject an I/O failure (throw) or a crash (_exit in a forked child) exactly there
// and check that earlier checkpoints and `latest` survive. Unset (the default) in production.
#pragma once

#include <functional>

namespace kiln::ckpt {

enum class SaveStage {
  rank_file_written,   // this rank's file is written and fsynced (every writing rank)
  manifest_written,    // rank 0: manifest.json written into the temporary directory
  directory_renamed,   // rank 0: step-NNNNNNNN in place, `latest` not yet updated
};

// Replaces the hook; an empty function removes it. Not thread-safe: set it between saves.
void set_save_hook(std::function<void(SaveStage)> hook);

}  // namespace kiln::ckpt
