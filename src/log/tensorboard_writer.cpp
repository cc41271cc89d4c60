#include "log/tensorboard_writer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <system_error>

namespace kiln {

namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

// --- protobuf wire format -----------------------------------------------------------------------
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_tag(std::string& out, uint32_t field, uint32_t wire_type) { put_varint(out, (field << 3) | wire_type); }
template <typename T>
void put_fixed(std::string& out, T v) {  // little endian, as on every host kiln builds for
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.append(bytes, sizeof(T));
}
void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string event_header(double wall_time, int64_t step) {
  std::string event;
  put_tag(event, 1, 1);  // wall_time: double
  put_fixed(event, wall_time);
  put_tag(event, 2, 0);  // step: int64
  put_varint(event, static_cast<uint64_t>(step));
  return event;
}

std::string system_error_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// --- reading ------------------------------------------------------------------------------------
struct Reader {
  const char* p;
  const char* end;
  std::string what;
  [[noreturn]] void fail(const std::string& why) const { throw std::runtime_error(what + ": " + why); }
  bool done() const { return p >= end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) fail("truncated varint");
      const auto b = static_cast<uint8_t>(*p++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  template <typename T>
  T fixed() {
    if (end - p < static_cast<std::ptrdiff_t>(sizeof(T))) fail("truncated fixed field");
    T v;
    std::memcpy(&v, p, sizeof(T));
    p += sizeof(T);
    return v;
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (static_cast<uint64_t>(end - p) < n) fail("truncated length-delimited field");
    std::string_view v(p, n);
    p += n;
    return v;
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: varint(); break;
      case 1: fixed<uint64_t>(); break;
      case 2: bytes(); break;
      case 5: fixed<uint32_t>(); break;
      default: fail("unsupported wire type " + std::to_string(wire_type));
    }
  }
};

}  // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
  const auto* b = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = kCrcTable[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create TensorBoard directory " + dir.string() + ": " + ec.message());
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
  const double now = unix_now();
  path_ = dir / ("events.out.tfevents." + std::to_string(static_cast<int64_t>(now)) + "." + host);
  // "a": a second writer started within the same second (a quick restart) appends its own
  // file_version record, which TensorBoard accepts, instead of truncating the first.
  file_ = std::fopen(path_.c_str(), "ab");
  if (!file_) throw std::runtime_error("cannot open " + path_.string() + ": " + system_error_text(errno));
  std::string event = event_header(now, 0);
  put_bytes(event, 3, "brain.Event:2");  // file_version
  write_record(event);
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (!file_) return;
  try {
    flush();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
  }
  std::fclose(file_);
}

void TensorBoardWriter::write_record(std::string_view data) {
  std::string record;
  record.reserve(data.size() + 16);
  put_fixed(record, static_cast<uint64_t>(data.size()));
  put_fixed(record, masked_crc32c(record.data(), 8));
  record.append(data);
  put_fixed(record, masked_crc32c(data.data(), data.size()));
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size())
    throw std::runtime_error("cannot write " + path_.string() + ": " + system_error_text(errno));
}

void TensorBoardWriter::write_scalars(int64_t step, const std::vector<std::pair<std::string, double>>& scalars) {
  const double now = unix_now();
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);
    put_tag(v, 2, 5);  // simple_value: float
    put_fixed(v, static_cast<float>(value));
    std::string summary;
    put_bytes(summary, 1, v);
    std::string event = event_header(now, step);
    put_bytes(event, 5, summary);
    write_record(event);
  }
}

void TensorBoardWriter::flush() {
  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0)
    throw std::runtime_error("cannot flush " + path_.string() + ": " + system_error_text(errno));
}

std::vector<ScalarEvent> read_scalar_events(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<ScalarEvent> out;
  size_t pos = 0;
  while (pos < data.size()) {
    const std::string where = path.string() + " at byte " + std::to_string(pos);
    if (data.size() - pos < 12) throw std::runtime_error(where + ": truncated record header");
    uint64_t length;
    uint32_t length_crc;
    std::memcpy(&length, data.data() + pos, 8);
    std::memcpy(&length_crc, data.data() + pos + 8, 4);
    if (length_crc != masked_crc32c(data.data() + pos, 8)) throw std::runtime_error(where + ": length CRC mismatch");
    if (data.size() - pos - 12 < length + 4) throw std::runtime_error(where + ": truncated record");
    const char* body = data.data() + pos + 12;
    uint32_t data_crc;
    std::memcpy(&data_crc, body + length, 4);
    if (data_crc != masked_crc32c(body, length)) throw std::runtime_error(where + ": data CRC mismatch");
    pos += 12 + length + 4;

    Reader event{body, body + length, where};
    double wall_time = 0;
    int64_t step = 0;
    std::vector<std::pair<std::string, float>> values;
    while (!event.done()) {
      const uint64_t key = event.varint();
      const auto field = static_cast<uint32_t>(key >> 3), wire = static_cast<uint32_t>(key & 7);
      if (field == 1 && wire == 1) wall_time = event.fixed<double>();
      else if (field == 2 && wire == 0) step = static_cast<int64_t>(event.varint());
      else if (field == 5 && wire == 2) {
        const std::string_view s = event.bytes();
        Reader summary{s.data(), s.data() + s.size(), where};
        while (!summary.done()) {
          const uint64_t skey = summary.varint();
          if (skey != ((1u << 3) | 2u)) {
            summary.skip(static_cast<uint32_t>(skey & 7));
            continue;
          }
          const std::string_view v = summary.bytes();
          Reader value{v.data(), v.data() + v.size(), where};
          std::string tag;
          std::optional<float> simple;
          while (!value.done()) {
            const uint64_t vkey = value.varint();
            if (vkey == ((1u << 3) | 2u)) tag = std::string(value.bytes());
            else if (vkey == ((2u << 3) | 5u)) simple = value.fixed<float>();
            else value.skip(static_cast<uint32_t>(vkey & 7));
          }
          if (simple) values.emplace_back(std::move(tag), *simple);
        }
      } else {
        event.skip(wire);
      }
    }
    for (auto& [tag, value] : values) out.push_back({wall_time, step, std::move(tag), value});
  }
  return out;
}

}  // namespace kiln
