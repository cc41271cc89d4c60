// A whole file mapped read-only into memory, unmapped when the object goes away.
//
// The readers keep token data in the page cache this way instead of copying it: a shard of
// billions of tokens costs address space, not memory, and every reader thread shares the pages.
// An empty file maps to nothing (data() == nullptr, size() == 0) because mmap refuses length 0.
// The mapping is private and read-only; the file must not be truncated while it is mapped (reads
// beyond the new end would raise SIGBUS), which holds for shards, written once and renamed in.
//
// Errors (missing file, not a regular file, mmap failure) throw DataFormatError naming the path
// and the system's reason.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

namespace kiln {

class MappedFile {
 public:
  MappedFile() = default;  // maps nothing
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  void release() noexcept;

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kiln
