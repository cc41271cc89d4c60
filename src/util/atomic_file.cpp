#include "util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace kiln {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int err) {
  throw std::runtime_error("cannot write " + path.string() + ": " + what + ": " +
                           std::strerror(err));
}

// Owns the temporary until it has been renamed into place, so that every early exit (including
// exceptions) closes and removes it.
class TempFile {
 public:
  explicit TempFile(std::filesystem::path path) : path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }

  const std::filesystem::path& path() const { return path_; }
  int fd() const { return fd_; }
  void set_fd(int fd) { fd_ = fd; }
  // close() can report deferred write errors (NFS), so its result matters before the rename.
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void commit() { committed_ = true; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool committed_ = false;
};

void write_all(int fd, std::string_view data, const std::filesystem::path& target) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(target, "write failed", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void sync_directory(const std::filesystem::path& dir, const std::filesystem::path& target) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(target, "cannot open directory " + dir.string() + " to sync it", errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some filesystems (certain network and FUSE mounts) cannot fsync a directory at all; there is
  // nothing more we could do there, so that is not treated as a failure.
  if (rc != 0 && err != EINVAL && err != ENOTSUP) {
    fail(target, "fsync of directory " + dir.string() + " failed", err);
  }
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::string_view contents) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  // Renaming over a device or a directory would replace it (as root, /dev/null with a file).
  std::error_code ec;
  const auto status = std::filesystem::symlink_status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw std::runtime_error("cannot write " + path.string() + ": it exists and is not a regular file");

  TempFile tmp(std::filesystem::path(path.string() + ".tmp." + std::to_string(::getpid())));
  // O_TRUNC: a temporary with our pid can only be left over from a crashed earlier process.
  int fd = ::open(tmp.path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot create temporary " + tmp.path().string(), errno);
  tmp.set_fd(fd);

  write_all(tmp.fd(), contents, path);
  // Without this fsync the rename may reach the disk before the data does, and a crash would
  // leave an empty or truncated file under the final name: exactly what this function prevents.
  if (::fsync(tmp.fd()) != 0) fail(path, "fsync failed", errno);
  if (tmp.close() != 0) fail(path, "close failed", errno);

  if (::rename(tmp.path().c_str(), path.c_str()) != 0) {
    fail(path, "cannot rename " + tmp.path().string() + " over it", errno);
  }
  tmp.commit();
  sync_directory(dir, path);
}

}  // namespace kiln
