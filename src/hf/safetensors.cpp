// Reading one .safetensors file: map it, parse and validate the header (safetensors.h).
#include "hf/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

namespace kiln::hf {
namespace {

// The Rust reference refuses headers above 100 MB; a header that large is corruption, and reading
// the length field of a non-safetensors file would otherwise ask for gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// safetensors data is little-endian; kiln copies it as it lies.
static_assert(std::endian::native == std::endian::little, "kiln's safetensors I/O assumes a little-endian host");

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw SafetensorsError(path.string() + ": " + what);
}

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}

}  // namespace

int64_t SafetensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t safetensors_dtype_size(const std::string& dtype) {
  static const std::map<std::string, size_t, std::less<>> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf, NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 → 127
  } else if (mant == 0) {
    bits = sign;  // ±0
  } else {  // subnormal: normalise the mantissa
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail(path, std::string("cannot stat: ") + std::strerror(e));
  }
  map_size_ = static_cast<size_t>(st.st_size);
  if (map_size_ > 0) {
    void* m = ::mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    if (m == MAP_FAILED) fail(path, std::string("cannot mmap: ") + std::strerror(e));
    map_ = m;
  } else {
    ::close(fd);
  }
  try {
    const auto* base = static_cast<const std::byte*>(map_);
    if (map_size_ < 8) fail(path, "is " + std::to_string(map_size_) + " bytes, too short for the 8-byte header length");
    const uint64_t n = read_u64_le(base);
    if (n > kMaxHeaderBytes || n > map_size_ - 8)
      fail(path, "header length " + std::to_string(n) + " does not fit the file of " + std::to_string(map_size_) +
                     " bytes (not a safetensors file, or truncated)");
    const char* text = reinterpret_cast<const char*>(base + 8);
    if (n == 0 || text[0] != '{') fail(path, "header does not start with '{' (not a safetensors file)");
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(text, text + n);
    } catch (const nlohmann::json::exception& e) {
      fail(path, std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) fail(path, "header is not a JSON object");
    data_ = base + 8 + n;
    const uint64_t data_size = map_size_ - 8 - n;

    for (const auto& [name, entry] : header.items()) {
      const std::string where = "tensor '" + name + "': ";
      if (name == "__metadata__") {
        if (!entry.is_object()) fail(path, "__metadata__ is not an object of strings");
        for (const auto& [k, v] : entry.items()) {
          if (!v.is_string()) fail(path, "__metadata__ value of '" + k + "' is not a string");
          metadata_[k] = v.get<std::string>();
        }
        continue;
      }
      if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
        fail(path, where + "expected an object with dtype, shape and data_offsets");
      SafetensorInfo t;
      t.name = name;
      if (!entry["dtype"].is_string()) fail(path, where + "dtype is not a string");
      t.dtype = entry["dtype"].get<std::string>();
      const size_t esize = safetensors_dtype_size(t.dtype);
      if (esize == 0) fail(path, where + "unknown dtype '" + t.dtype + "'");
      if (!entry["shape"].is_array()) fail(path, where + "shape is not an array");
      uint64_t numel = 1;
      for (const auto& d : entry["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0) fail(path, where + "shape has a dimension that is not a non-negative integer");
        const auto dim = d.get<uint64_t>();
        if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / dim) fail(path, where + "shape overflows");
        numel *= dim;
        t.shape.push_back(static_cast<int64_t>(dim));
      }
      const auto& off = entry["data_offsets"];
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        fail(path, where + "data_offsets is not [begin, end]");
      t.begin = off[0].get<uint64_t>();
      t.end = off[1].get<uint64_t>();
      if (t.begin > t.end || t.end > data_size)
        fail(path, where + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                       "] lie outside the data section of " + std::to_string(data_size) + " bytes");
      if (t.end - t.begin != numel * esize)
        fail(path, where + "data_offsets span " + std::to_string(t.end - t.begin) + " bytes but " + t.dtype +
                       " of this shape needs " + std::to_string(numel * esize));
      tensors_.push_back(std::move(t));
    }
    // The ranges must tile the data section: a gap or overlap means the header lies about the data.
    std::sort(tensors_.begin(), tensors_.end(),
              [](const SafetensorInfo& a, const SafetensorInfo& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
    uint64_t expected = 0;
    for (const SafetensorInfo& t : tensors_) {
      if (t.begin != expected)
        fail(path, "tensor '" + t.name + "' starts at byte " + std::to_string(t.begin) + " of the data section, expected " +
                       std::to_string(expected) + (t.begin < expected ? " (overlaps the previous tensor)" : " (a gap)"));
      expected = t.end;
    }
    if (expected != data_size)
      fail(path, "tensors cover " + std::to_string(expected) + " bytes of a " + std::to_string(data_size) +
                     "-byte data section (trailing bytes)");
    for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  } catch (...) {
    if (map_) ::munmap(map_, map_size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, map_size_);
}

const SafetensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> SafetensorsFile::bytes(const SafetensorInfo& t) const {
  return {data_ + t.begin, static_cast<size_t>(t.end - t.begin)};
}

void SafetensorsFile::read_f32(const SafetensorInfo& t, std::span<float> out) const {
  const auto n = static_cast<size_t>(t.numel());
  if (out.size() != n)
    fail(path_, "tensor '" + t.name + "': " + std::to_string(n) + " elements read into a buffer of " +
                    std::to_string(out.size()));
  const std::byte* src = data_ + t.begin;
  // Element by element through memcpy: the data section is only guaranteed 1-byte aligned.
  if (t.dtype == "F32") {
    std::memcpy(out.data(), src, n * 4);
  } else if (t.dtype == "BF16") {
    for (size_t i = 0; i < n; ++i) {
      uint16_t b;
      std::memcpy(&b, src + 2 * i, 2);
      out[i] = std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
    }
  } else if (t.dtype == "F16") {
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      out[i] = half_to_float(h);
    }
  } else {
    fail(path_, "tensor '" + t.name + "' has dtype " + t.dtype + "; kiln reads F32, BF16 and F16 weights");
  }
}

}  // namespace kiln::hf
