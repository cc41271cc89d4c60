// The TensorBoard event writer: CRC-32C, TFRecord framing and the Event protobuf, read back by a
// small decoder written here (independent of the library's read_scalar_events) and, when the
// Python tensorboard package is installed, by TensorBoard's own EventAccumulator.
#include "log/tensorboard_writer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "support/temp_dir.h"

namespace kiln {
namespace {

TEST(Crc32c, StandardCheckValue) {
  const char* s = "123456789";
  EXPECT_EQ(crc32c(s, 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  // Incremental = one shot.
  EXPECT_EQ(crc32c(s + 4, 5, crc32c(s, 4)), 0xE3069283u);
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(masked_crc32c(s, 9), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

// --- an independent minimal decoder -------------------------------------------------------------
struct Decoded {
  double wall_time = 0;
  int64_t step = -1;
  std::string file_version;
  std::vector<std::pair<std::string, float>> values;
};

uint64_t varint(const std::string& s, size_t& i) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const auto b = static_cast<uint8_t>(s.at(i++));
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
}

std::string bytes_field(const std::string& s, size_t& i) {
  const uint64_t n = varint(s, i);
  std::string out = s.substr(i, n);
  i += n;
  return out;
}

Decoded decode_event(const std::string& e) {
  Decoded d;
  size_t i = 0;
  while (i < e.size()) {
    const uint64_t key = varint(e, i);
    if (key == 0x09) {
      std::memcpy(&d.wall_time, e.data() + i, 8);
      i += 8;
    } else if (key == 0x10) {
      d.step = static_cast<int64_t>(varint(e, i));
    } else if (key == 0x1a) {
      d.file_version = bytes_field(e, i);
    } else if (key == 0x2a) {
      const std::string summary = bytes_field(e, i);
      size_t j = 0;
      while (j < summary.size()) {
        EXPECT_EQ(varint(summary, j), 0x0au);
        const std::string value = bytes_field(summary, j);
        size_t k = 0;
        EXPECT_EQ(varint(value, k), 0x0au);
        std::string tag = bytes_field(value, k);
        EXPECT_EQ(varint(value, k), 0x15u);
        float f;
        std::memcpy(&f, value.data() + k, 4);
        k += 4;
        EXPECT_EQ(k, value.size());
        d.values.emplace_back(std::move(tag), f);
      }
    } else {
      ADD_FAILURE() << "unexpected key " << key;
      break;
    }
  }
  return d;
}

uint32_t mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

std::vector<Decoded> decode_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<Decoded> out;
  size_t pos = 0;
  while (pos < data.size()) {
    uint64_t length;
    uint32_t length_crc, data_crc;
    std::memcpy(&length, data.data() + pos, 8);
    std::memcpy(&length_crc, data.data() + pos + 8, 4);
    EXPECT_EQ(length_crc, mask(crc32c(data.data() + pos, 8))) << "record at " << pos;
    const std::string event = data.substr(pos + 12, length);
    std::memcpy(&data_crc, data.data() + pos + 12 + length, 4);
    EXPECT_EQ(data_crc, mask(crc32c(event.data(), event.size()))) << "record at " << pos;
    out.push_back(decode_event(event));
    pos += 12 + length + 4;
  }
  EXPECT_EQ(pos, data.size());
  return out;
}

std::filesystem::path only_event_file(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  EXPECT_EQ(files.size(), 1u);
  return files.empty() ? std::filesystem::path() : files[0];
}

TEST(TensorBoardWriter, WritesFramedEventsThatDecode) {
  testing::TempDir dir;
  const auto tb = dir.path() / "runs" / "tensorboard";  // created with its parents
  const double before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::filesystem::path path;
  {
    TensorBoardWriter w(tb);
    path = w.path();
    w.write_scalars(1, {{"train/loss", 6.25}, {"train/lr", 3e-4}});
    w.flush();
    w.write_scalars(300, {{"eval/loss", 2.5}});
  }  // the destructor flushes
  EXPECT_EQ(path.parent_path(), tb);
  EXPECT_EQ(path.filename().string().rfind("events.out.tfevents.", 0), 0u) << path;
  EXPECT_EQ(only_event_file(tb), path);

  const auto events = decode_file(path);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_TRUE(events[0].values.empty());
  EXPECT_GE(events[0].wall_time, std::floor(before));
  const std::vector<std::tuple<int64_t, std::string, float>> want = {
      {1, "train/loss", 6.25f}, {1, "train/lr", 3e-4f}, {300, "eval/loss", 2.5f}};
  for (size_t i = 0; i < want.size(); ++i) {
    const Decoded& e = events[i + 1];
    EXPECT_EQ(e.step, std::get<0>(want[i]));
    ASSERT_EQ(e.values.size(), 1u);
    EXPECT_EQ(e.values[0].first, std::get<1>(want[i]));
    EXPECT_EQ(e.values[0].second, std::get<2>(want[i]));
    EXPECT_GE(e.wall_time, events[0].wall_time);
  }

  // The library's reader agrees.
  const auto scalars = read_scalar_events(path);
  ASSERT_EQ(scalars.size(), 3u);
  EXPECT_EQ(scalars[2].tag, "eval/loss");
  EXPECT_EQ(scalars[2].step, 300);
  EXPECT_EQ(scalars[2].value, 2.5f);
}

TEST(TensorBoardWriter, ReaderRejectsACorruptRecord) {
  testing::TempDir dir;
  std::filesystem::path path;
  {
    TensorBoardWriter w(dir.path());
    path = w.path();
    w.write_scalars(7, {{"train/loss", 1.0}});
  }
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(-6, std::ios::end);  // inside the last record's data
  f.put('\x7f');
  f.close();
  EXPECT_THROW(read_scalar_events(path), std::runtime_error);
}

TEST(TensorBoardWriter, TensorBoardReadsTheFile) {
  if (std::system("python3 -c 'import tensorboard' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "the Python tensorboard package is not installed (pip install tensorboard)";
  testing::TempDir dir;
  {
    TensorBoardWriter w(dir.path() / "tb");
    for (int step = 1; step <= 3; ++step)
      w.write_scalars(step * 10, {{"train/loss", 4.0 - step}, {"train/lr", 0.001 * step}});
  }
  const auto script = dir.write("read.py", R"(import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1])
acc.Reload()
for tag in sorted(acc.Tags()["scalars"]):
    for e in acc.Scalars(tag):
        print(tag, e.step, repr(e.value))
)");
  const auto out = dir.path() / "out.txt";
  const std::string cmd = "python3 " + script.string() + " " + (dir.path() / "tb").string() + " > " + out.string() +
                          " 2>" + (dir.path() / "err.txt").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "see " << (dir.path() / "err.txt");
  std::ifstream in(out);
  std::vector<std::tuple<std::string, int64_t, double>> got;
  std::string tag;
  int64_t step;
  double value;
  while (in >> tag >> step >> value) got.emplace_back(tag, step, value);
  ASSERT_EQ(got.size(), 6u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(std::get<0>(got[static_cast<size_t>(i)]), "train/loss");
    EXPECT_EQ(std::get<1>(got[static_cast<size_t>(i)]), (i + 1) * 10);
    EXPECT_EQ(std::get<2>(got[static_cast<size_t>(i)]), static_cast<double>(static_cast<float>(3.0 - i)));
    EXPECT_EQ(std::get<0>(got[static_cast<size_t>(i + 3)]), "train/lr");
    EXPECT_EQ(std::get<2>(got[static_cast<size_t>(i + 3)]), static_cast<double>(static_cast<float>(0.001 * (i + 1))));
  }
}

}  // namespace
}  // namespace kiln
