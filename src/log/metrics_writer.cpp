#include "log/metrics_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace kiln {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int err) {
  throw std::runtime_error("metrics file " + path.string() + ": " + what + ": " +
                           std::strerror(err));
}

// Where the file should end so that it holds only complete lines: just past its last '\n', or 0
// when it has none. Reads backwards in chunks because the file may be large and the partial line
// is at most one record long.
off_t end_of_last_complete_line(int fd, off_t size, const std::filesystem::path& path) {
  constexpr off_t kChunk = 64 * 1024;
  std::vector<char> buf(kChunk);
  off_t end = size;
  while (end > 0) {
    off_t begin = end > kChunk ? end - kChunk : 0;
    size_t len = static_cast<size_t>(end - begin);
    ssize_t n = ::pread(fd, buf.data(), len, begin);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path, "read failed", errno);
    }
    if (static_cast<size_t>(n) != len) fail(path, "file shrank while being read", EIO);
    for (off_t i = static_cast<off_t>(len); i > 0; --i) {
      if (buf[i - 1] == '\n') return begin + i;
    }
    end = begin;
  }
  return 0;
}

double unix_seconds_now() {
  using seconds = std::chrono::duration<double>;
  return std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void validate(const Metrics& metrics) {
  if (!metrics.is_object()) {
    throw std::invalid_argument("MetricsWriter::write: metrics must be a JSON object, got " +
                                std::string(metrics.type_name()));
  }
  for (const auto& [key, value] : metrics.items()) {
    if (key == "step" || key == "time") {
      throw std::invalid_argument("MetricsWriter::write: metric name '" + key +
                                  "' is reserved");
    }
    if (value.is_structured()) {
      throw std::invalid_argument("MetricsWriter::write: metric '" + key +
                                  "' must be a number, string, boolean or null, got " +
                                  std::string(value.type_name()));
    }
  }
}

}  // namespace

MetricsWriter::MetricsWriter(std::filesystem::path path, int rank, int64_t flush_every)
    : path_(std::move(path)), flush_every_(flush_every) {
  if (flush_every < 1) {
    throw std::invalid_argument("MetricsWriter: flush_every must be >= 1, got " +
                                std::to_string(flush_every));
  }
  if (rank < 0) {
    throw std::invalid_argument("MetricsWriter: rank must be >= 0, got " + std::to_string(rank));
  }
  if (rank != 0) return;

  // O_APPEND makes every write land at the current end, also after the repair below moves it.
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail(path_, "cannot open", errno);

  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail(path_, "cannot stat", err);
  }
  try {
    off_t keep = end_of_last_complete_line(fd, st.st_size, path_);
    if (keep != st.st_size) {
      if (::ftruncate(fd, keep) != 0) fail(path_, "cannot cut off a partial last line", errno);
      spdlog::warn("metrics file {}: dropped a partial last line ({} bytes) left by an earlier "
                   "run",
                   path_.string(), st.st_size - keep);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  fd_ = fd;
}

MetricsWriter::~MetricsWriter() {
  if (fd_ < 0) return;
  try {
    flush();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
  }
  ::close(fd_);
}

void MetricsWriter::write(int64_t step, const Metrics& metrics) {
  validate(metrics);
  if (fd_ < 0) return;

  Metrics record;
  record["step"] = step;
  record["time"] = unix_seconds_now();
  for (const auto& [key, value] : metrics.items()) {
    bool non_finite = value.is_number_float() && !std::isfinite(value.get<double>());
    record[key] = non_finite ? Metrics(nullptr) : value;
  }
  // replace: a stray invalid UTF-8 byte in a string metric must not cost the record.
  buffer_ += record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  buffer_ += '\n';
  if (++pending_records_ >= flush_every_) flush();
}

void MetricsWriter::flush() {
  if (fd_ < 0) return;
  std::string_view rest(buffer_);
  while (!rest.empty()) {
    ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      // Keep what was not written, so that a later flush (e.g. after space is freed) can retry
      // without duplicating the records that did go out.
      buffer_.erase(0, buffer_.size() - rest.size());
      fail(path_, "write failed", err);
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  buffer_.clear();
  pending_records_ = 0;
}

}  // namespace kiln
