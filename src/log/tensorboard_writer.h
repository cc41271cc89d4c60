// TensorBoard scalars without TensorFlow: an event file (`events.out.tfevents.<unix time>.<host>`)
// that `tensorboard --logdir <dir or a parent>` reads.
//
// The file is a TFRecord stream: each record is
//   uint64 length (little endian) | uint32 masked CRC-32C of those 8 bytes | data |
//   uint32 masked CRC-32C of the data
// with mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8. Each record's data is a serialized
// tensorflow.Event protobuf, hand-encoded here: the first carries file_version "brain.Event:2",
// then one Event per scalar, {wall_time (1, double), step (2, int64), summary (5) {value (1)
// {tag (1, string), simple_value (2, float)}}}.
//
// Not thread-safe: one writer per process, used by one thread. The trainer creates it on world
// rank 0 only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78); crc32c("123456789") = 0xE3069283.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
// The TFRecord mask of a CRC-32C.
uint32_t masked_crc32c(const void* data, size_t size);

class TensorBoardWriter {
 public:
  // Creates `dir` (and its parents) if needed and a new event file in it, named
  // events.out.tfevents.<unix seconds>.<hostname>, and writes the file_version record.
  // Throws std::runtime_error naming the path and the system's reason when that fails.
  explicit TensorBoardWriter(const std::filesystem::path& dir);
  ~TensorBoardWriter();  // flushes; errors there are logged, not thrown

  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One Event per (tag, value), all with `step` and the current wall time. Buffered until
  // flush(). Throws std::runtime_error when writing fails.
  void write_scalars(int64_t step, const std::vector<std::pair<std::string, double>>& scalars);

  // Writes the buffered events and fsyncs the file. Throws std::runtime_error when that fails.
  void flush();

  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(std::string_view data);

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// One scalar read back from an event file.
struct ScalarEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string tag;
  float value = 0;
};

// Reads every scalar (simple_value) of an event file, in file order, checking both CRCs of every
// record; events without scalars (file_version) are skipped. Throws std::runtime_error on a
// truncated record, a CRC mismatch or malformed protobuf. For tests and tools.
std::vector<ScalarEvent> read_scalar_events(const std::filesystem::path& path);

}  // namespace kiln
