// Training metrics as JSON lines: one object per record, one record per line, e.g.
//
//   {"step":100,"time":1717171717.25,"loss":2.31,"lr":0.0003,"phase":"warmup"}
//
// "step" and "time" (Unix seconds, fractional) come first, then the caller's metrics in the
// order given. The format is append-only and line-oriented so that a run can be tailed while it
// trains, resumed into the same file, and loaded with e.g. pandas.read_json(path, lines=True).
//
// Non-finite numbers (NaN, ±Inf) are written as null: JSON has no spelling for them, and a
// diverged loss must not make the whole file unparseable. Readers should treat null as "not a
// number" rather than "missing".
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace kiln {

// An object of scalar values (numbers, strings, booleans, null), e.g. {{"loss", 2.3}, {"lr", 3e-4}}.
// ordered_json keeps the caller's key order in the file.
using Metrics = nlohmann::ordered_json;

// Only rank 0 writes; on every other rank the writer is inert (creates no file, writes nothing),
// so all ranks can run the same code. Not thread-safe: one writer per process, used by one thread.
class MetricsWriter {
 public:
  // Opens `path` for appending, creating it if needed (its directory must exist). A last line
  // without its '\n', left by a crash in mid-write, is cut off first so that the records
  // appended after it stay on lines of their own and the file stays valid JSON lines.
  // Records are handed to the OS every `flush_every` records (>= 1) and on destruction; they are
  // not fsynced, since losing the last few records to a power cut is acceptable and fsync on a
  // shared filesystem is not cheap.
  // Throws std::invalid_argument for flush_every < 1 or a negative rank, and std::runtime_error
  // naming the path and the system's reason when the file cannot be opened or repaired.
  MetricsWriter(std::filesystem::path path, int rank, int64_t flush_every = 1);
  ~MetricsWriter();  // flushes; errors there are logged, not thrown

  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // Records `metrics` for `step` with the current time.
  // Throws std::invalid_argument when `metrics` is not an object, holds a non-scalar value, or
  // uses the reserved keys "step" or "time"; this is checked on every rank, so a bad call fails
  // everywhere alike instead of only on rank 0. Throws std::runtime_error when writing fails.
  void write(int64_t step, const Metrics& metrics);

  // Hands buffered records to the OS now. Throws std::runtime_error when writing fails.
  void flush();

  bool active() const { return fd_ >= 0; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  int64_t flush_every_;
  int64_t pending_records_ = 0;
  std::string buffer_;
};

}  // namespace kiln
