#include "data/formats/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "data/formats/document_store.h"

namespace kiln {
namespace {

constexpr size_t kBufferBytes = size_t{1} << 20;

}  // namespace

std::filesystem::path temporary_name_for(const std::filesystem::path& destination) {
  static std::atomic<uint64_t> counter{0};
  return std::filesystem::path(destination.string() + ".tmp." + std::to_string(::getpid()) + "." +
                               std::to_string(counter.fetch_add(1)));
}

void sync_parent_directory(const std::filesystem::path& destination) {
  std::filesystem::path dir = destination.parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    throw DataFormatError(destination.string() + ": cannot open directory " + dir.string() +
                          " to sync it: " + std::strerror(errno));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some network and FUSE filesystems cannot fsync a directory at all; nothing more can be done.
  if (rc != 0 && err != EINVAL && err != ENOTSUP) {
    throw DataFormatError(destination.string() + ": fsync of directory " + dir.string() +
                          " failed: " + std::strerror(err));
  }
}

void sync_file(const std::filesystem::path& file, const std::filesystem::path& destination) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw DataFormatError(destination.string() + ": cannot open " + file.string() +
                          " to sync it: " + std::strerror(errno));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0)
    throw DataFormatError(destination.string() + ": fsync of " + file.string() + " failed: " + std::strerror(err));
}

OutputFile::OutputFile(std::filesystem::path destination)
    : destination_(std::move(destination)), temporary_(temporary_name_for(destination_)) {
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(("cannot create temporary " + temporary_.string()).c_str(), errno);
  buffer_.reserve(kBufferBytes);
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temporary_.c_str());
}

void OutputFile::fail(const char* what, int err) const {
  throw DataFormatError(destination_.string() + ": " + what + ": " + std::strerror(err));
}

void OutputFile::write(const void* data, size_t n) {
  if (fd_ < 0) throw DataFormatError(destination_.string() + ": write after the file was closed");
  const auto* p = static_cast<const std::byte*>(data);
  bytes_ += n;
  if (buffer_.size() + n > kBufferBytes) flush();
  if (n >= kBufferBytes) {
    write_through(p, n);  // large blocks go straight to the kernel rather than through the buffer
    return;
  }
  buffer_.insert(buffer_.end(), p, p + n);
}

void OutputFile::write_through(const std::byte* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void OutputFile::flush() {
  write_through(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void OutputFile::sync_and_close() {
  if (fd_ < 0) return;
  flush();
  // Without this fsync the rename may reach the disk before the data, and a crash would leave a
  // short file under the final name: the very thing the temporary is for.
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  int rc = ::close(fd_);
  fd_ = -1;
  // close() can report deferred write errors (NFS).
  if (rc != 0) fail("close failed", errno);
}

void OutputFile::commit() {
  sync_and_close();
  if (::rename(temporary_.c_str(), destination_.c_str()) != 0) {
    fail(("cannot rename " + temporary_.string() + " over it").c_str(), errno);
  }
  committed_ = true;
}

TempPath::~TempPath() {
  if (!released_) ::unlink(path_.c_str());
}

}  // namespace kiln
