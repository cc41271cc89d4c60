// The safetensors format (Hugging Face): reading, mmapped and validated, and writing, atomically.
//
// A file is
//   u64 little-endian N | N bytes of JSON header | data
// The header maps each tensor name to {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}
// (byte offsets into the data section) and may hold "__metadata__", a map of strings. kiln checks
// what the Rust reference checks before any tensor is read: the header length fits the file, the
// header is a JSON object, every dtype is known, every shape is non-negative, each tensor's byte
// range is exactly numel × element size, and the ranges, sorted, tile the data section with no
// gap, overlap or trailing bytes. Every error names the file and, where one is to blame, the tensor.
//
// A model too big for one file is sharded: `model.safetensors.index.json` holds
// {"metadata": {"total_size": bytes}, "weight_map": {tensor name: shard file name}}.
// SafetensorsDir reads either layout; write_safetensors_dir writes either (sharded only when a
// size limit is given and exceeded).
//
// Element types: F32, BF16 and F16 can be read as fp32 (BF16 and F16 are widened exactly); F32 and
// BF16 can be written. Other dtypes (I64, F64, …) are accepted in a header, so a file with an odd
// extra buffer still opens, but reading one as fp32 is refused naming it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::hf {

// Malformed, missing or unsupported safetensors content; the message names the file and tensor.
struct SafetensorsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SafetensorInfo {
  std::string name;
  std::string dtype;           // as the header spells it: "F32", "BF16", "F16", "I64", …
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // byte range in the data section

  int64_t numel() const;
};

// Bytes per element of a safetensors dtype name, or 0 for a name the format does not define.
size_t safetensors_dtype_size(const std::string& dtype);

// One .safetensors file, mapped read-only for the object's lifetime.
class SafetensorsFile {
 public:
  // Opens, maps and validates `path`. Throws SafetensorsError.
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensors in header order of their data (sorted by offset).
  const std::vector<SafetensorInfo>& tensors() const { return tensors_; }
  // nullptr when the file has no tensor `name`.
  const SafetensorInfo* find(const std::string& name) const;
  // The raw little-endian bytes of a tensor of this file.
  std::span<const std::byte> bytes(const SafetensorInfo& t) const;
  // The tensor's values widened to fp32 into `out` (exactly numel() elements). Throws
  // SafetensorsError for a dtype other than F32, BF16 or F16, or a wrong-sized `out`.
  void read_f32(const SafetensorInfo& t, std::span<float> out) const;

 private:
  std::filesystem::path path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const std::byte* data_ = nullptr;  // the data section
  std::map<std::string, std::string> metadata_;
  std::vector<SafetensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
};

// A model directory's weights: `model.safetensors.index.json` and its shards when the index
// exists, else `model.safetensors`.
class SafetensorsDir {
 public:
  // Throws SafetensorsError naming the directory when it has neither file, the index when it is
  // malformed or names a tensor its shard lacks, and any shard that fails to open.
  explicit SafetensorsDir(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  // The tensor's entry and the file holding it. Throws SafetensorsError naming the tensor and the
  // directory when there is none.
  const SafetensorInfo& info(const std::string& name) const;
  const SafetensorsFile& file_of(const std::string& name) const;
  // read_f32 of the tensor, after checking its shape is `expected_shape` (the message gives both).
  void read_f32(const std::string& name, const std::vector<int64_t>& expected_shape, std::span<float> out) const;

 private:
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name → files_ index
};

// One tensor to write: raw little-endian bytes already in `dtype` ("F32" or "BF16").
struct SafetensorToWrite {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;
};

// Writes one file atomically: `<path>.tmp.<pid>`, fsync, rename over `path`, fsync of the directory.
// Tensors are laid out in the given order; the header is padded with spaces to a multiple of 8
// bytes so the data section starts aligned. Throws SafetensorsError (naming the path) for I/O
// failures, a duplicate name, or bytes that do not match dtype × shape.
void write_safetensors(const std::filesystem::path& path, const std::vector<SafetensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Writes a model's weights into `dir` (which must exist): one `model.safetensors` when
// max_shard_bytes is 0 or everything fits, else shards `model-0000i-of-0000n.safetensors` of at
// most max_shard_bytes each (a single larger tensor gets a shard of its own), filled in the given
// order, plus `model.safetensors.index.json`. Returns the files written, index last.
std::vector<std::filesystem::path> write_safetensors_dir(const std::filesystem::path& dir,
                                                         const std::vector<SafetensorToWrite>& tensors,
                                                         uint64_t max_shard_bytes = 0,
                                                         const std::map<std::string, std::string>& metadata = {});

// Widening conversions used by read_f32 (exact). IEEE binary16 → fp32, subnormals and inf/NaN kept.
float half_to_float(uint16_t h);

}  // namespace kiln::hf
