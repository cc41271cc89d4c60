// safetensors reading and writing: round trips, F16/BF16 widening, sharding, and every header
// corruption the reader must refuse with the file and tensor named.
#include "hf/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>

#include "support/error_text.h"
#include "support/temp_dir.h"

namespace kiln::hf {
namespace {

using kiln::testing::contains;
using kiln::testing::error_of;
using kiln::testing::TempDir;

std::span<const std::byte> bytes_of(const std::vector<float>& v) { return std::as_bytes(std::span<const float>(v)); }

// A raw file: header text (unpadded) followed by `data_bytes` bytes of 0x11.
std::filesystem::path raw_file(const TempDir& dir, const std::string& name, const std::string& header, size_t data_bytes,
                               std::optional<uint64_t> claimed_length = std::nullopt) {
  const auto path = dir.path() / name;
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = claimed_length.value_or(header.size());
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header;
  out << std::string(data_bytes, '\x11');
  return path;
}

TEST(Safetensors, WriteThenReadRoundTripsF32AndMetadata) {
  TempDir dir;
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
  const std::vector<float> b = {42.0f};
  const auto path = dir.path() / "x.safetensors";
  write_safetensors(path, {{"a", "F32", {2, 3}, bytes_of(a)}, {"b.bias", "F32", {1}, bytes_of(b)}}, {{"format", "pt"}});

  const SafetensorsFile f(path);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.tensors().size(), 2u);
  const SafetensorInfo* t = f.find("a");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  std::vector<float> back(6);
  f.read_f32(*t, back);
  EXPECT_EQ(back, a);
  EXPECT_EQ(f.find("missing"), nullptr);
  // The data section starts 8-byte aligned (the header is space-padded).
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);
  // No temporary is left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(Safetensors, WidensBf16AndF16Exactly) {
  TempDir dir;
  // bf16: 1.0 = 0x3f80, -2.5 = 0xc020. f16: 1.0 = 0x3c00, -2.5 = 0xc100, 65504 = 0x7bff,
  // smallest subnormal 2^-24 = 0x0001, +inf = 0x7c00.
  const std::vector<uint16_t> bf = {0x3f80, 0xc020};
  const std::vector<uint16_t> hf = {0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00};
  std::vector<std::byte> bf_bytes(4), hf_bytes(10);
  std::memcpy(bf_bytes.data(), bf.data(), 4);
  std::memcpy(hf_bytes.data(), hf.data(), 10);
  write_safetensors(dir.path() / "b.safetensors", {{"x", "BF16", {2}, bf_bytes}});
  const SafetensorsFile b(dir.path() / "b.safetensors");
  std::vector<float> out(2);
  b.read_f32(*b.find("x"), out);
  EXPECT_EQ(out, (std::vector<float>{1.0f, -2.5f}));

  // F16 is read-only in kiln: write the file by hand.
  const std::string header = R"({"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]}})";
  const auto path = dir.path() / "h.safetensors";
  {
    std::ofstream o(path, std::ios::binary);
    const uint64_t n = header.size();
    o.write(reinterpret_cast<const char*>(&n), 8);
    o << header;
    o.write(reinterpret_cast<const char*>(hf_bytes.data()), 10);
  }
  const SafetensorsFile h(path);
  std::vector<float> wide(5);
  h.read_f32(*h.find("h"), wide);
  EXPECT_EQ(wide[0], 1.0f);
  EXPECT_EQ(wide[1], -2.5f);
  EXPECT_EQ(wide[2], 65504.0f);
  EXPECT_EQ(wide[3], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(wide[4]));
}

TEST(Safetensors, ShardedDirectoryRoundTripsThroughTheIndex) {
  TempDir dir;
  std::vector<std::vector<float>> values;
  std::vector<SafetensorToWrite> tensors;
  for (int i = 0; i < 5; ++i) values.push_back(std::vector<float>(10, static_cast<float>(i)));
  for (int i = 0; i < 5; ++i) tensors.push_back({"t" + std::to_string(i), "F32", {10}, bytes_of(values[i])});
  const auto files = write_safetensors_dir(dir.path(), tensors, /*max_shard_bytes=*/90);
  ASSERT_EQ(files.size(), 4u);  // 40 + 40 > 90? no: two per shard → 3 shards + index
  EXPECT_EQ(files.back().filename(), "model.safetensors.index.json");
  EXPECT_EQ(files.front().filename(), "model-00001-of-00003.safetensors");

  const SafetensorsDir st(dir.path());
  EXPECT_EQ(st.names().size(), 5u);
  std::vector<float> out(10);
  st.read_f32("t3", {10}, out);
  EXPECT_EQ(out, values[3]);
  EXPECT_TRUE(contains(error_of([&] { st.read_f32("t3", {2, 5}, out); }), "has shape [10], expected [2, 5]"));
  EXPECT_TRUE(contains(error_of([&] { st.read_f32("nope", {10}, out); }), "tensor 'nope' is missing"));
}

TEST(Safetensors, IndexNamingATensorItsShardLacksIsRefused) {
  TempDir dir;
  const std::vector<float> v = {1, 2};
  write_safetensors(dir.path() / "model-00001-of-00001.safetensors", {{"a", "F32", {2}, bytes_of(v)}});
  dir.write("model.safetensors.index.json",
            R"({"metadata":{},"weight_map":{"a":"model-00001-of-00001.safetensors","b":"model-00001-of-00001.safetensors"}})");
  const std::string e = error_of([&] { SafetensorsDir st(dir.path()); });
  EXPECT_TRUE(contains(e, "model.safetensors.index.json"));
  EXPECT_TRUE(contains(e, "'b'"));
}

TEST(Safetensors, DirectoryWithoutWeightsIsRefused) {
  TempDir dir;
  EXPECT_TRUE(contains(error_of([&] { SafetensorsDir st(dir.path()); }), "neither model.safetensors"));
}

struct Corrupt {
  const char* what;
  std::string header;
  size_t data_bytes;
  std::optional<uint64_t> claimed;
  const char* expect;
};

TEST(Safetensors, CorruptHeadersAreRefusedNamingFileAndTensor) {
  TempDir dir;
  const std::vector<Corrupt> cases = {
      {"length beyond file", R"({})", 0, 1000, "does not fit the file"},
      {"not JSON", R"({"a": )", 0, std::nullopt, "not valid JSON"},
      {"not an object", R"([1,2])", 0, std::nullopt, "does not start with '{'"},
      {"unknown dtype", R"({"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", 1, std::nullopt, "tensor 'w': unknown dtype 'Q4'"},
      {"offsets outside", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4, std::nullopt, "tensor 'w': data_offsets [0, 8] lie outside"},
      {"size mismatch", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, std::nullopt, "tensor 'w': data_offsets span 8 bytes but F32 of this shape needs 12"},
      {"overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12, std::nullopt, "tensor 'b' starts at byte 4 of the data section, expected 8 (overlaps"},
      {"gap", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8, std::nullopt, "tensor 'a' starts at byte 4"},
      {"trailing", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8, std::nullopt, "trailing bytes"},
      {"negative dim", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, std::nullopt, "tensor 'a': shape has a dimension"},
      {"missing key", R"({"a":{"dtype":"F32","shape":[1]}})", 4, std::nullopt, "tensor 'a': expected an object with dtype, shape and data_offsets"},
  };
  for (const Corrupt& c : cases) {
    const auto path = raw_file(dir, "bad.safetensors", c.header, c.data_bytes, c.claimed);
    const std::string e = error_of([&] { SafetensorsFile f(path); });
    EXPECT_TRUE(contains(e, path.string())) << c.what;
    EXPECT_TRUE(contains(e, c.expect)) << c.what;
  }
  std::ofstream(dir.path() / "short.safetensors") << "abc";
  EXPECT_TRUE(contains(error_of([&] { SafetensorsFile f(dir.path() / "short.safetensors"); }), "too short"));
}

TEST(Safetensors, ReadingAnIntegerTensorAsFp32IsRefused) {
  TempDir dir;
  const auto path = raw_file(dir, "i.safetensors", R"({"steps":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8);
  const SafetensorsFile f(path);  // opens: an odd extra buffer does not make the file unreadable
  std::vector<float> out(1);
  EXPECT_TRUE(contains(error_of([&] { f.read_f32(*f.find("steps"), out); }), "tensor 'steps' has dtype I64"));
}

TEST(Safetensors, WriterRefusesMismatchedBytesAndDuplicates) {
  TempDir dir;
  const std::vector<float> v = {1, 2, 3};
  EXPECT_TRUE(contains(error_of([&] { write_safetensors(dir.path() / "x", {{"a", "F32", {2}, bytes_of(v)}}); }),
                       "tensor 'a' has 12 bytes"));
  EXPECT_TRUE(contains(error_of([&] {
                         write_safetensors(dir.path() / "x", {{"a", "F32", {3}, bytes_of(v)}, {"a", "F32", {3}, bytes_of(v)}});
                       }),
                       "given twice"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "x"));
}

}  // namespace
}  // namespace kiln::hf
