// kiln's HDF5 token shard: round trips, the layout the writer produces (checked through the HDF5
// C API, not the reader), the reader's refusals, and format detection.
//
// Malformed files are built object by object with H5Builder (h5_builder.h).
#include "data/formats/hdf5_tokens.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <string>

#include "data/formats/format_test_util.h"
#include "data/formats/h5_builder.h"
#include "support/error_text.h"
#include "support/temp_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using kiln::testing::contains;
using kiln::testing::Documents;
using kiln::testing::error_of;
using kiln::testing::H5Builder;

class Hdf5TokensTest : public ::testing::Test {
 protected:
  fs::path file(const std::string& name) const { return dir_ / name; }
  std::string open_error(const fs::path& p) const {
    return error_of([&] { Hdf5TokenStore s(p); });
  }
  // A kiln shard's root attributes, to which a test adds (or omits) datasets.
  static H5Builder& kiln_attrs(H5Builder& b, int64_t vocab = 50257) {
    return b.attr("format", std::string("kiln-tokens")).attr("version", 1).attr("vocab_size", vocab);
  }

  kiln::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
};

TEST_F(Hdf5TokensTest, RoundTripsUint16AndInt32WithEmptyAndSingleDocuments) {
  struct Case {
    const char* name;
    int64_t vocab;
    Documents docs;
    TokenDType dtype;
  };
  const Case cases[] = {
      {"none.h5", 50257, {}, TokenDType::uint16},
      {"one.h5", 50257, {{1, 2, 3}}, TokenDType::uint16},
      {"one_empty.h5", 50257, {{}}, TokenDType::uint16},
      {"fixture16.h5", testing::kUint16Vocab, testing::kUint16Docs, TokenDType::uint16},
      {"fixture32.h5", testing::kInt32Vocab, testing::kInt32Docs, TokenDType::int32},
      {"many16.h5", 65499, testing::random_documents(2000, 1500, 65499, 4), TokenDType::uint16},
      {"many32.h5", 100352, testing::random_documents(300, 9000, 100352, 5), TokenDType::int32},
  };
  for (const auto& c : cases) {
    testing::write_documents(file(c.name), ShardFormat::hdf5, c.vocab, c.docs);
    auto store = open_document_store(file(c.name), ShardFormat::hdf5);
    EXPECT_EQ(store->format(), ShardFormat::hdf5);
    EXPECT_EQ(store->dtype(), c.dtype) << c.name;
    EXPECT_EQ(store->num_documents(), c.docs.size()) << c.name;
    EXPECT_EQ(testing::read_documents(*store), c.docs) << c.name;
  }
  EXPECT_EQ(testing::listing(dir_).size(), std::size(cases));  // no temporaries left
}

TEST_F(Hdf5TokensTest, RecordsAttributesAndAlignsLargeTokenArrays) {
  auto w = create_document_writer(file("a.h5"), ShardFormat::hdf5, 50304, "gpt-neox-20b", 0);
  const auto docs = testing::random_documents(100, 200, 50304, 6);
  for (const auto& d : docs) w->add(d);
  w->finish();
  Hdf5TokenStore s(file("a.h5"));
  EXPECT_EQ(s.vocab_size(), 50304);
  EXPECT_EQ(s.eod_token_id(), 0);
  EXPECT_EQ(s.tokenizer(), "gpt-neox-20b");
  EXPECT_EQ(s.tokens_file_offset() % 4096, 0u);  // > 4 KiB of tokens: page-aligned
  EXPECT_EQ(testing::read_documents(s), docs);
}

// The file as other HDF5 readers see it: object types, shapes, layout.
TEST_F(Hdf5TokensTest, LayoutIsAsDocumented) {
  testing::write_documents(file("l.h5"), ShardFormat::hdf5, testing::kUint16Vocab, testing::kUint16Docs);
  hid_t f = H5Fopen(file("l.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t tokens = H5Dopen2(f, "tokens", H5P_DEFAULT);
  hid_t type = H5Dget_type(tokens);
  EXPECT_GT(H5Tequal(type, H5T_STD_U16LE), 0);
  hid_t dcpl = H5Dget_create_plist(tokens);
  EXPECT_EQ(H5Pget_layout(dcpl), H5D_CONTIGUOUS);
  hid_t space = H5Dget_space(tokens);
  hsize_t n = 0;
  ASSERT_EQ(H5Sget_simple_extent_ndims(space), 1);
  H5Sget_simple_extent_dims(space, &n, nullptr);
  EXPECT_EQ(n, 14u);
  hid_t offsets = H5Dopen2(f, "document_offsets", H5P_DEFAULT);
  std::vector<int64_t> off(6);
  H5Dread(offsets, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, off.data());
  EXPECT_EQ(off, (std::vector<int64_t>{0, 3, 3, 7, 8, 14}));
  int64_t version = 0;
  hid_t a = H5Aopen(f, "version", H5P_DEFAULT);
  H5Aread(a, H5T_NATIVE_INT64, &version);
  EXPECT_EQ(version, 1);
  for (hid_t h : {a}) H5Aclose(h);
  H5Dclose(offsets);
  H5Sclose(space);
  H5Pclose(dcpl);
  H5Tclose(type);
  H5Dclose(tokens);
  H5Fclose(f);
}

TEST_F(Hdf5TokensTest, AcceptsFixedLengthStringAttributes) {
  {
    H5Builder b(file("fixed.h5"));
    kiln_attrs(b).attr("tokenizer", std::string("t"));
    b.dataset<uint16_t>("tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, {3}, {5, 6, 7});
    b.dataset<int64_t>("document_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {3}, {0, 1, 3});
  }
  Hdf5TokenStore s(file("fixed.h5"));
  EXPECT_EQ(s.tokenizer(), "t");
  EXPECT_EQ(s.eod_token_id(), -1);
  EXPECT_EQ(testing::read_documents(s), (Documents{{5}, {6, 7}}));
}

TEST_F(Hdf5TokensTest, WriterRejectsTokensOutsideTheVocabulary) {
  auto w = create_document_writer(file("bad.h5"), ShardFormat::hdf5, 500);
  const std::string msg = error_of([&] { w->add(std::vector<int32_t>{1, 500}); });
  EXPECT_TRUE(
      contains(msg, file("bad.h5").string() + ": document 0, token 1: id 500 is outside the vocabulary [0, 500)"));
}

TEST_F(Hdf5TokensTest, WriterWithoutFinishLeavesNoFiles) {
  {
    auto w = create_document_writer(file("gone.h5"), ShardFormat::hdf5, 500);
    w->add(std::vector<int32_t>{1, 2, 3});
  }
  EXPECT_TRUE(testing::listing(dir_).empty());
}

// ---- refusals ---------------------------------------------------------------------------------

TEST_F(Hdf5TokensTest, RejectsMissingAndTruncatedFiles) {
  EXPECT_TRUE(contains(open_error(file("absent.h5")), file("absent.h5").string() + ": no such file"));

  testing::write_documents(file("t.h5"), ShardFormat::hdf5, 100352, testing::random_documents(50, 2000, 100352, 7));
  const std::string whole = testing::read_file(file("t.h5"));
  const uint64_t tokens_at = Hdf5TokenStore(file("t.h5")).tokens_file_offset();
  for (size_t len : {size_t{0}, size_t{100}, size_t{tokens_at + 10}, whole.size() / 2, whole.size() - 1}) {
    testing::write_bytes(file("t.h5"), whole.substr(0, len));
    const std::string msg = open_error(file("t.h5"));
    EXPECT_TRUE(contains(msg, file("t.h5").string() + ": ")) << len;
    EXPECT_TRUE(msg.find("cannot open as an HDF5 file") != std::string::npos ||
                msg.find("truncated") != std::string::npos)
        << len << ": " << msg;
  }
}

TEST_F(Hdf5TokensTest, RejectsNonKilnFiles) {
  {
    H5Builder b(file("plain.h5"));
    b.dataset<int32_t>("x", H5T_STD_I32LE, H5T_NATIVE_INT32, {1}, {1});
  }
  EXPECT_TRUE(contains(open_error(file("plain.h5")),
                       file("plain.h5").string() + ": root attribute 'format' is missing: not a kiln token shard"));
  EXPECT_TRUE(contains(open_error(testing::fixture("cerebras_tiny.h5")), "looks like a Cerebras"));
  {
    H5Builder b(file("other.h5"));
    b.attr("format", std::string("other-tokens"));
  }
  EXPECT_TRUE(
      contains(open_error(file("other.h5")), "root attribute 'format' is 'other-tokens', expected 'kiln-tokens'"));
  {
    H5Builder b(file("v2.h5"));
    b.attr("format", std::string("kiln-tokens")).attr("version", 2);
  }
  EXPECT_TRUE(
      contains(open_error(file("v2.h5")), file("v2.h5").string() + ": root attribute 'version' is 2, expected 1"));
  {
    H5Builder b(file("v.h5"));
    b.attr("format", std::string("kiln-tokens")).attr("version", std::string("1"));
  }
  EXPECT_TRUE(contains(open_error(file("v.h5")), "root attribute 'version' is a string, expected an integer"));
}

TEST_F(Hdf5TokensTest, RejectsMissingDatasets) {
  {
    H5Builder b(file("no_tokens.h5"));
    kiln_attrs(b).dataset<int64_t>("document_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {1}, {0});
  }
  EXPECT_TRUE(
      contains(open_error(file("no_tokens.h5")), file("no_tokens.h5").string() + ": dataset /tokens is missing"));
  {
    H5Builder b(file("no_offsets.h5"));
    kiln_attrs(b).dataset<uint16_t>("tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, {2}, {1, 2});
  }
  EXPECT_TRUE(contains(open_error(file("no_offsets.h5")),
                       file("no_offsets.h5").string() + ": dataset /document_offsets is missing"));
}

TEST_F(Hdf5TokensTest, RejectsWrongRankTypeAndLayout) {
  const std::vector<int64_t> offsets = {0, 4};
  {
    H5Builder b(file("rank.h5"));
    kiln_attrs(b).dataset<uint16_t>("tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, {2, 2}, {1, 2, 3, 4});
    b.dataset("document_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {2}, offsets);
  }
  EXPECT_TRUE(
      contains(open_error(file("rank.h5")), file("rank.h5").string() + ": dataset /tokens has rank 2, expected 1"));
  {
    H5Builder b(file("float.h5"));
    kiln_attrs(b).dataset<float>("tokens", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {4}, {1, 2, 3, 4});
    b.dataset("document_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {2}, offsets);
  }
  EXPECT_TRUE(contains(open_error(file("float.h5")),
                       ": dataset /tokens has type float32, expected uint16 or int32 (little-endian)"));
  {
    H5Builder b(file("i64.h5"));
    kiln_attrs(b).dataset<int64_t>("tokens", H5T_STD_I64LE, H5T_NATIVE_INT64, {4}, {1, 2, 3, 4});
    b.dataset("document_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {2}, offsets);
  }
  EXPECT_TRUE(contains(open_error(file("i64.h5")), ": dataset /tokens has type int64, expected uint16 or int32"));
  {
    H5Builder b(file("chunked.h5"));
    kiln_attrs(b).dataset<uint16_t>("tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, {4}, {1, 2, 3, 4}, {2});
    b.dataset("document_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {2}, offsets);
  }
  EXPECT_TRUE(contains(open_error(file("chunked.h5")),
                       file("chunked.h5").string() + ": dataset /tokens has chunked layout, expected contiguous"));
  {
    H5Builder b(file("off2d.h5"));
    kiln_attrs(b).dataset<uint16_t>("tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, {4}, {1, 2, 3, 4});
    b.dataset("document_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {1, 2}, offsets);
  }
  EXPECT_TRUE(contains(open_error(file("off2d.h5")), ": dataset /document_offsets has rank 2, expected 1"));
}

TEST_F(Hdf5TokensTest, RejectsInconsistentOffsets) {
  auto make = [&](const char* name, std::vector<int64_t> offsets) {
    H5Builder b(file(name));
    kiln_attrs(b).dataset<uint16_t>("tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, {4}, {1, 2, 3, 4});
    b.dataset("document_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {offsets.size()}, offsets);
    return file(name);
  };
  EXPECT_TRUE(contains(open_error(make("o1.h5", {1, 4})), "o1.h5: dataset /document_offsets[0] is 1, expected 0"));
  EXPECT_TRUE(contains(open_error(make("o2.h5", {0, 3, 2, 4})),
                       "o2.h5: dataset /document_offsets[2] is 2, less than entry 1 = 3: expected non-decreasing"));
  EXPECT_TRUE(contains(open_error(make("o3.h5", {0, 3})),
                       "o3.h5: dataset /document_offsets[1] is 3, expected 4 (the length of dataset /tokens)"));
  {
    H5Builder b(file("o4.h5"));
    kiln_attrs(b).dataset<uint16_t>("tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, {4}, {1, 2, 3, 4});
    b.dataset<int64_t>("document_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {0}, {});
  }
  EXPECT_TRUE(contains(open_error(file("o4.h5")), "o4.h5: dataset /document_offsets is empty"));
}

// ---- detection ----------------------------------------------------------------------------------

TEST_F(Hdf5TokensTest, DetectsFormatsByNameAndContents) {
  testing::write_documents(file("k.h5"), ShardFormat::hdf5, 100, {{1}});
  EXPECT_EQ(detect_format(file("k.h5")), DetectedFormat::kiln_hdf5);
  fs::copy_file(file("k.h5"), file("k.data"));
  EXPECT_EQ(detect_format(file("k.data")), DetectedFormat::kiln_hdf5);  // by contents
  EXPECT_EQ(detect_format(testing::fixture("cerebras_tiny.h5")), DetectedFormat::cerebras_hdf5);
  EXPECT_EQ(detect_format(testing::fixture("neox_uint16")), DetectedFormat::mmap);
  EXPECT_EQ(detect_format(testing::fixture("neox_uint16.bin")), DetectedFormat::mmap);
  EXPECT_EQ(detect_format(testing::fixture("neox_int32.idx")), DetectedFormat::mmap);
  EXPECT_TRUE(contains(error_of([&] { detect_format(file("nothing")); }), "cannot tell the format"));
  EXPECT_TRUE(contains(error_of([&] { detect_format(file("nothing.h5")); }), "nothing.h5: no such file"));
  { H5Builder b(file("plain.hdf5")); }
  EXPECT_TRUE(contains(error_of([&] { detect_format(file("plain.hdf5")); }), "plain.hdf5: an HDF5 file with neither"));
}

}  // namespace
}  // namespace kiln
