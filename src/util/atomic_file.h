// Crash-safe replacement of a whole file.
//
// Used for files that a reader must never see half-written (checkpoint manifests, "latest"
// pointers, resolved configs): a crash or full disk at any point leaves either the old contents or
// the new ones at `path`, never a mixture.
#pragma once

#include <filesystem>
#include <string_view>

namespace kiln {

// Replaces the contents of `path` with `contents`, creating the file if needed.
//
// The data goes to `<path>.tmp.<pid>` in the same directory (rename is only atomic within one
// filesystem; the pid keeps concurrent ranks from sharing a temporary), is fsynced, renamed over
// `path`, and then the directory is fsynced so that the rename itself survives a power loss.
// The new file gets mode 0644 (less the umask); the old file's mode is not carried over.
//
// Throws std::runtime_error naming the path and the reason on any failure. If it throws before
// the rename, `path` is untouched and the temporary is removed. If only the final directory fsync
// fails, `path` already holds the new contents but their durability is not guaranteed.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

}  // namespace kiln
