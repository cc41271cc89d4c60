// The few POSIX file operations checkpoints need, with the durability steps spelled out and every
// failure turned into a CheckpointError that names the path and the system's reason.
//
// Durability model (ext4/xfs semantics): data written to a file is only on disk after fsync of
// that file; a new directory entry (create, rename) only after fsync of the directory holding it.
// So a checkpoint fsyncs every file it writes, then the temporary directory (its entries), and
// after renaming the directory into place, the parent (the rename).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace kiln::ckpt {

// An open file descriptor, closed on destruction.
class File {
 public:
  File() = default;
  File(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  File(File&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  File& operator=(File&&) = delete;
  File(const File&) = delete;
  ~File();

  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  // Closes and reports close()'s error (deferred write errors on network filesystems).
  void close();

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

File open_for_reading(const std::filesystem::path& path);
// Creates (or truncates) `path` for writing, mode 0644 less the umask.
File create_for_writing(const std::filesystem::path& path);

// Writes all of `data` at the file's current position (retrying short writes and EINTR).
void write_all(const File& file, std::span<const std::byte> data);
// Reads exactly data.size() bytes at `offset`; a short file is an error ("ends at byte N").
void read_exact_at(int fd, const std::filesystem::path& path, std::span<std::byte> data, uint64_t offset);
uint64_t file_size(const File& file);
void fsync_file(const File& file);
// fsync of a directory: makes the entries created or renamed in it durable. Filesystems that
// cannot fsync a directory (EINVAL, ENOTSUP: some FUSE and network mounts) are tolerated.
void fsync_directory(const std::filesystem::path& dir);

// Writes `contents` to a new file `path` and fsyncs it (no rename: for files inside a directory
// that becomes visible only later, as a whole).
void write_file_synced(const std::filesystem::path& path, std::span<const std::byte> contents);
std::string read_text_file(const std::filesystem::path& path);

// Replaces directory `to` by directory `from`: an atomic exchange (renameat2 RENAME_EXCHANGE)
// where the filesystem supports it, so `to` never disappears; otherwise `to` is first renamed to
// `aside` and `from` into its place. Either way the old contents end up at `aside`, for the
// caller to delete. When `to` does not exist, a plain rename.
// Returns true when an old directory was moved to `aside`.
bool replace_directory(const std::filesystem::path& from, const std::filesystem::path& to,
                       const std::filesystem::path& aside);

// remove_all that reports failure as a CheckpointError naming the path.
void remove_tree(const std::filesystem::path& path);

}  // namespace kiln::ckpt
