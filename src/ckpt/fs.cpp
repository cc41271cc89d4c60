#include "ckpt/fs.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc ≥ 2.28)
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ckpt/checkpoint.h"

namespace kiln::ckpt {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int err) {
  throw CheckpointError(path.string() + ": " + what + ": " + std::strerror(err));
}

}  // namespace

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

void File::close() {
  if (fd_ < 0) return;
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail(path_, "close failed", errno);
}

File open_for_reading(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open", errno);
  return File(fd, path);
}

File create_for_writing(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot create", errno);
  return File(fd, path);
}

void write_all(const File& file, std::span<const std::byte> data) {
  while (!data.empty()) {
    // One write() call moves at most ~2 GiB on Linux anyway; asking for less keeps it portable.
    const size_t want = std::min<size_t>(data.size(), size_t{1} << 30);
    const ssize_t n = ::write(file.fd(), data.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(file.path(), "write failed", errno);
    }
    data = data.subspan(static_cast<size_t>(n));
  }
}

void read_exact_at(int fd, const std::filesystem::path& path, std::span<std::byte> data, uint64_t offset) {
  while (!data.empty()) {
    const size_t want = std::min<size_t>(data.size(), size_t{1} << 30);
    const ssize_t n = ::pread(fd, data.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path, "read failed at byte " + std::to_string(offset), errno);
    }
    if (n == 0) {
      throw CheckpointError(path.string() + ": file ends at byte " + std::to_string(offset) + ", " +
                            std::to_string(data.size()) + " more bytes expected (truncated?)");
    }
    data = data.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
}

uint64_t file_size(const File& file) {
  struct stat st {};
  if (::fstat(file.fd(), &st) != 0) fail(file.path(), "fstat failed", errno);
  return static_cast<uint64_t>(st.st_size);
}

void fsync_file(const File& file) {
  if (::fsync(file.fd()) != 0) fail(file.path(), "fsync failed", errno);
}

void fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(dir, "cannot open the directory to fsync it", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL && err != ENOTSUP) fail(dir, "fsync of the directory failed", err);
}

void write_file_synced(const std::filesystem::path& path, std::span<const std::byte> contents) {
  File f = create_for_writing(path);
  write_all(f, contents);
  fsync_file(f);
  f.close();
}

std::string read_text_file(const std::filesystem::path& path) {
  File f = open_for_reading(path);
  std::string s(static_cast<size_t>(file_size(f)), '\0');
  read_exact_at(f.fd(), path, std::as_writable_bytes(std::span<char>(s.data(), s.size())), 0);
  return s;
}

bool replace_directory(const std::filesystem::path& from, const std::filesystem::path& to,
                       const std::filesystem::path& aside) {
  std::error_code ec;
  if (!std::filesystem::exists(to, ec)) {
    if (::rename(from.c_str(), to.c_str()) != 0) fail(to, "cannot rename " + from.string() + " to it", errno);
    return false;
  }
  // Atomic swap: `to` names a whole directory at every instant, old then new.
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) == 0) {
    if (::rename(from.c_str(), aside.c_str()) != 0)  // `from` now holds the old directory
      fail(aside, "cannot rename the replaced " + from.string() + " to it", errno);
    return true;
  }
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
    fail(to, "cannot exchange it with " + from.string(), errno);
  // No exchange on this filesystem: for a moment `to` does not exist (readers fall back to the
  // previous checkpoint; see docs/checkpoints.md).
  if (::rename(to.c_str(), aside.c_str()) != 0) fail(to, "cannot move it aside to " + aside.string(), errno);
  if (::rename(from.c_str(), to.c_str()) != 0) fail(to, "cannot rename " + from.string() + " to it", errno);
  return true;
}

void remove_tree(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) throw CheckpointError(path.string() + ": cannot remove: " + ec.message());
}

}  // namespace kiln::ckpt
