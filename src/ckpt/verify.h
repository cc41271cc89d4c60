// Validation of a checkpoint's rank files against its manifest: existence, size, and the CRC-32
// of every array. Reads the arrays it checks in full.
#pragma once

#include <filesystem>
#include <span>

#include "ckpt/manifest.h"

namespace kiln::ckpt {

// Throws CheckpointError naming the file (and the array) when the file is missing ("missing
// file"), its size differs from the manifest's ("size mismatch"), or one of `arrays` does not
// have its recorded checksum ("checksum mismatch").
void verify_rank_file(const std::filesystem::path& checkpoint, const RankFileEntry& file,
                      std::span<const ArrayKind> arrays);

// Every array of every rank file.
void verify_all_files(const std::filesystem::path& checkpoint, const Manifest& manifest);

}  // namespace kiln::ckpt
