// `kiln export-hf` and `kiln import-hf`: a kiln checkpoint ↔ a Hugging Face model directory.
//
// Export reads any kiln checkpoint (whatever tp × dp wrote it: load_checkpoint reassembles the
// global tensors into a tp = 1, dp = 1 layout), takes the model from the config stored in its
// manifest, and writes the fp32 MASTER weights (the most precise copy; bf16 params are their
// rounding) through write_hf_model.
//
// Import reads an HF directory (read_hf_model) and writes a kiln checkpoint at step 0 into
// `out_dir`/step-00000000 (+ `latest`), saved over a one-rank world: params and masters are the
// weights in fp32, Adam m = v = 0, no optimizer steps, no data consumed. Beside it goes
// `out_dir`/config.yml, the resolved kiln config. Continue pre-training from it as a new run on
// its own data: `kiln train out_dir/config.yml --set checkpoint.init_from=out_dir/step-00000000`.
#pragma once

#include <filesystem>

#include "hf/hf_model.h"

namespace kiln::hf {

// Returns the checkpoint directory written.
std::filesystem::path import_hf_checkpoint(const std::filesystem::path& hf_dir, const std::filesystem::path& out_dir,
                                           const HfReadOptions& options = {});

void export_hf_checkpoint(const std::filesystem::path& checkpoint, const std::filesystem::path& hf_dir,
                          const HfWriteOptions& options = {});

}  // namespace kiln::hf
