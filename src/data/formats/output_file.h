// Files that appear at their destination whole or not at all (the writers' half of the
// DocumentWriter contract in document_store.h).
//
// OutputFile writes `<destination>.tmp.<pid>.<n>` in the destination's directory (rename is only
// atomic within one filesystem; pid and a per-process counter keep concurrent writers apart),
// buffers writes, and on commit() fsyncs, renames over the destination and fsyncs the directory.
// Destroying it before commit() closes and removes the temporary. TempPath is the same guard for
// a temporary that a library (HDF5) writes itself.
//
// Every failure (disk full, permission, I/O error) throws DataFormatError naming the destination
// and the system's reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace kiln {

// `<destination>.tmp.<pid>.<n>`, a fresh name on every call.
std::filesystem::path temporary_name_for(const std::filesystem::path& destination);

// fsync of the directory holding `destination`, so that a rename into it survives a power loss.
void sync_parent_directory(const std::filesystem::path& destination);

// fsync of a file written by someone else (HDF5 closes its files without syncing them).
void sync_file(const std::filesystem::path& file, const std::filesystem::path& destination);

class OutputFile {
 public:
  explicit OutputFile(std::filesystem::path destination);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::filesystem::path& destination() const { return destination_; }
  const std::filesystem::path& temporary() const { return temporary_; }
  uint64_t bytes_written() const { return bytes_; }

  void write(const void* data, size_t n);
  // Hands the buffered bytes to the kernel (the temporary then holds everything written so far).
  void flush();
  // flush, fsync and close; the temporary stays until commit() or destruction.
  void sync_and_close();
  // Renames the temporary over the destination (after sync_and_close()). The caller syncs the
  // directory once after its last rename (sync_parent_directory).
  void commit();

 private:
  [[noreturn]] void fail(const char* what, int err) const;
  void write_through(const std::byte* p, size_t n);  // all of it, retrying short writes and EINTR

  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t bytes_ = 0;
  std::vector<std::byte> buffer_;
};

class TempPath {
 public:
  explicit TempPath(const std::filesystem::path& destination) : path_(temporary_name_for(destination)) {}
  ~TempPath();
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The file has been renamed away; nothing to remove.
  void release() { released_ = true; }

 private:
  std::filesystem::path path_;
  bool released_ = false;
};

}  // namespace kiln
