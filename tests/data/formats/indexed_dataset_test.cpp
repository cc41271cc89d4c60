// The GPT-NeoX mmap format: reading NeoX-written fixtures, writing byte-identical files, round
// trips, and every structural fault the reader must name (file and byte offset).
//
// Fixtures: tests/fixtures/data/neox_{uint16,int32}.{bin,idx}, written by make_fixtures.py with
// numpy the way GPT-NeoX's MMapIndexedDatasetBuilder writes them (one item per document).
#include "data/formats/indexed_dataset.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "data/formats/format_test_util.h"
#include "support/error_text.h"
#include "support/temp_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using kiln::testing::contains;
using kiln::testing::Documents;
using kiln::testing::error_of;
using kiln::testing::fixture;
using kiln::testing::peek;
using kiln::testing::poke;
using kiln::testing::read_file;

class IndexedDatasetTest : public ::testing::Test {
 protected:
  // A valid pair `name`.{bin,idx} holding kUint16Docs, returned as raw bytes for patching.
  fs::path prefix(const std::string& name) const { return dir_ / name; }
  void write_pair(const std::string& name, const std::string& idx, const std::string& bin) const {
    testing::write_bytes(prefix(name).string() + ".idx", idx);
    testing::write_bytes(prefix(name).string() + ".bin", bin);
  }
  std::string open_error(const std::string& name) const {
    return error_of([&] { IndexedDataset ds(prefix(name)); });
  }

  kiln::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
  const std::string good_idx_ = read_file(fixture("neox_uint16.idx"));
  const std::string good_bin_ = read_file(fixture("neox_uint16.bin"));
  // Layout of the fixture: N = 5, D = 6.
  static constexpr size_t kN = 5;
  static constexpr size_t kSizes = 34;
  static constexpr size_t kPointers = kSizes + 4 * kN;
  static constexpr size_t kDocIdx = kPointers + 8 * kN;
};

// ---- reading NeoX-written files ------------------------------------------------------------------

TEST_F(IndexedDatasetTest, ReadsNeoxUint16Fixture) {
  IndexedDataset ds(fixture("neox_uint16"));
  EXPECT_EQ(ds.format(), ShardFormat::mmap);
  EXPECT_EQ(ds.dtype(), TokenDType::uint16);
  EXPECT_EQ(ds.num_documents(), 5u);
  EXPECT_EQ(ds.num_tokens(), 14u);
  EXPECT_EQ(ds.doc_idx_length(), 6u);
  EXPECT_EQ(ds.doc_offset(0), 0u);
  EXPECT_EQ(ds.doc_offset(1), 3u);
  EXPECT_EQ(ds.doc_offset(2), 3u);  // the empty document
  EXPECT_EQ(ds.doc_offset(5), 14u);
  EXPECT_EQ(testing::read_documents(ds), testing::kUint16Docs);
  EXPECT_EQ(ds.path(), fixture("neox_uint16").string());
}

TEST_F(IndexedDatasetTest, ReadsNeoxInt32Fixture) {
  IndexedDataset ds(fixture("neox_int32"));
  EXPECT_EQ(ds.dtype(), TokenDType::int32);
  EXPECT_EQ(testing::read_documents(ds), testing::kInt32Docs);
}

TEST_F(IndexedDatasetTest, OpensByEitherFileNameOrPrefix) {
  for (const char* name : {"neox_uint16", "neox_uint16.bin", "neox_uint16.idx"}) {
    auto store = open_document_store(fixture(name), ShardFormat::mmap);
    EXPECT_EQ(store->path(), fixture("neox_uint16").string()) << name;
    EXPECT_EQ(store->num_tokens(), 14u);
  }
}

TEST_F(IndexedDatasetTest, ReadTokensSpansDocumentsAndChecksRange) {
  IndexedDataset ds(fixture("neox_uint16"));
  std::vector<int32_t> out(5);
  ds.read_tokens(2, out);  // 3 | (empty) | 50256 0 17 42
  EXPECT_EQ(out, (std::vector<int32_t>{3, 50256, 0, 17, 42}));
  std::vector<int32_t> none;
  EXPECT_NO_THROW(ds.read_tokens(14, none));
  EXPECT_THROW(ds.read_tokens(10, out), std::out_of_range);
  EXPECT_THROW(ds.read_tokens(15, none), std::out_of_range);
  EXPECT_THROW(ds.doc_offset(6), std::out_of_range);
}

// ---- writing what NeoX writes --------------------------------------------------------------------

TEST_F(IndexedDatasetTest, WriterIsByteIdenticalToNeoxBuilder) {
  testing::write_documents(prefix("u16"), ShardFormat::mmap, testing::kUint16Vocab, testing::kUint16Docs);
  EXPECT_EQ(read_file(prefix("u16").string() + ".idx"), good_idx_);
  EXPECT_EQ(read_file(prefix("u16").string() + ".bin"), good_bin_);

  testing::write_documents(prefix("i32"), ShardFormat::mmap, testing::kInt32Vocab, testing::kInt32Docs);
  EXPECT_EQ(read_file(prefix("i32").string() + ".idx"), read_file(fixture("neox_int32.idx")));
  EXPECT_EQ(read_file(prefix("i32").string() + ".bin"), read_file(fixture("neox_int32.bin")));
}

// The .idx parsed straight from its bytes as SPEC §4 lays it out, without the reader.
TEST_F(IndexedDatasetTest, IdxBytesFollowTheSpecLayout) {
  const Documents docs = {{5, 6, 7, 8}, {}, {9}, {70000, 1}};
  testing::write_documents(prefix("x"), ShardFormat::mmap, 100000, docs);  // ≥ 65,500: int32
  const std::string idx = read_file(prefix("x").string() + ".idx");
  const std::string bin = read_file(prefix("x").string() + ".bin");
  ASSERT_EQ(idx.size(), 9u + 8 + 1 + 8 + 8 + 4 * 4 + 8 * 4 + 8 * 5);
  EXPECT_EQ(idx.substr(0, 9), std::string("MMIDIDX\0\0", 9));
  EXPECT_EQ(peek<uint64_t>(idx, 9), 1u);         // version
  EXPECT_EQ(static_cast<uint8_t>(idx[17]), 4u);  // int32
  EXPECT_EQ(peek<uint64_t>(idx, 18), 4u);        // N
  EXPECT_EQ(peek<uint64_t>(idx, 26), 5u);        // D = N + 1
  const int32_t sizes[] = {4, 0, 1, 2};
  const int64_t pointers[] = {0, 16, 16, 20};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(peek<int32_t>(idx, 34 + 4 * i), sizes[i]) << i;
    EXPECT_EQ(peek<int64_t>(idx, 34 + 16 + 8 * i), pointers[i]) << i;
  }
  for (size_t j = 0; j < 5; ++j) EXPECT_EQ(peek<int64_t>(idx, 34 + 16 + 32 + 8 * j), static_cast<int64_t>(j)) << j;
  ASSERT_EQ(bin.size(), 7u * 4);
  EXPECT_EQ(peek<int32_t>(bin, 0), 5);
  EXPECT_EQ(peek<int32_t>(bin, 5 * 4), 70000);

  // And a uint16 one: code 8, 2-byte items, pointers in bytes.
  testing::write_documents(prefix("y"), ShardFormat::mmap, 50257, Documents{{1, 2}, {3}});
  const std::string idx16 = read_file(prefix("y").string() + ".idx");
  EXPECT_EQ(static_cast<uint8_t>(idx16[17]), 8u);
  EXPECT_EQ(peek<int64_t>(idx16, 34 + 8 + 8), 4);  // pointer 1 = 2 tokens × 2 bytes
  EXPECT_EQ(read_file(prefix("y").string() + ".bin"), std::string("\x01\0\x02\0\x03\0", 6));
}

TEST_F(IndexedDatasetTest, RoundTripsManyEmptyAndSingleDocuments) {
  struct Case {
    const char* name;
    int64_t vocab;
    Documents docs;
    TokenDType dtype;
  };
  const Case cases[] = {
      {"none", 50257, {}, TokenDType::uint16},
      {"one", 50257, {{1, 2, 3}}, TokenDType::uint16},
      {"one_empty", 50257, {{}}, TokenDType::uint16},
      {"empties", 100, {{}, {}, {4}, {}}, TokenDType::uint16},
      {"many16", 65499, testing::random_documents(3000, 700, 65499, 1), TokenDType::uint16},
      {"many32", 65500, testing::random_documents(500, 3000, 65500, 2), TokenDType::int32},
      {"big32", 256000, testing::random_documents(200, 2000, 256000, 3), TokenDType::int32},
  };
  for (const auto& c : cases) {
    testing::write_documents(prefix(c.name), ShardFormat::mmap, c.vocab, c.docs);
    IndexedDataset ds(prefix(c.name));
    EXPECT_EQ(ds.dtype(), c.dtype) << c.name;
    EXPECT_EQ(ds.num_documents(), c.docs.size()) << c.name;
    EXPECT_EQ(testing::read_documents(ds), c.docs) << c.name;
  }
  // Nothing but the pairs: no temporaries left behind.
  EXPECT_EQ(testing::listing(dir_).size(), 2 * std::size(cases));
}

TEST_F(IndexedDatasetTest, WriterRejectsTokensOutsideTheVocabulary) {
  auto w = create_document_writer(prefix("bad"), ShardFormat::mmap, 1000);
  w->add(std::vector<int32_t>{1, 2});
  std::string msg = error_of([&] { w->add(std::vector<int32_t>{5, 999, 1000}); });
  EXPECT_TRUE(contains(msg, prefix("bad").string() + ".bin"));
  EXPECT_TRUE(contains(msg, "document 1, token 2: id 1000 is outside the vocabulary [0, 1000)"));
  msg = error_of([&] { w->add(std::vector<int32_t>{-3}); });
  EXPECT_TRUE(contains(msg, "id -3"));
}

TEST_F(IndexedDatasetTest, WriterWithoutFinishLeavesNoFiles) {
  {
    auto w = create_document_writer(prefix("gone"), ShardFormat::mmap, 1000);
    w->add(std::vector<int32_t>{1, 2, 3});
    EXPECT_FALSE(testing::listing(dir_).empty());  // the temporaries exist meanwhile
  }
  EXPECT_TRUE(testing::listing(dir_).empty());
}

TEST_F(IndexedDatasetTest, WriterReportsAnUnwritableDestination) {
  const std::string msg =
      error_of([&] { create_document_writer(dir_ / "no" / "such" / "dir" / "x", ShardFormat::mmap, 10); });
  EXPECT_TRUE(contains(msg, (dir_ / "no" / "such" / "dir" / "x").string()));
  EXPECT_TRUE(contains(msg, "No such file or directory"));
}

TEST(TokenDTypeRule, FollowsNeoxBestFittingDtype) {
  EXPECT_EQ(token_dtype_for_vocab(1), TokenDType::uint16);
  EXPECT_EQ(token_dtype_for_vocab(50257), TokenDType::uint16);
  EXPECT_EQ(token_dtype_for_vocab(65499), TokenDType::uint16);
  EXPECT_EQ(token_dtype_for_vocab(65500), TokenDType::int32);
  EXPECT_EQ(token_dtype_for_vocab(100352), TokenDType::int32);
  EXPECT_THROW(token_dtype_for_vocab(0), DataFormatError);
  EXPECT_THROW(token_dtype_for_vocab(int64_t{1} << 32), DataFormatError);
}

// ---- structural faults, each named with file and byte offset ----------------------------------------

TEST_F(IndexedDatasetTest, FixtureIsValidBeforePatching) {
  write_pair("ok", good_idx_, good_bin_);
  EXPECT_NO_THROW(IndexedDataset ds(prefix("ok")));
}

TEST_F(IndexedDatasetTest, RejectsBadMagic) {
  std::string idx = good_idx_;
  idx[3] = 'X';
  write_pair("m", idx, good_bin_);
  const std::string msg = open_error("m");
  EXPECT_TRUE(contains(msg, prefix("m").string() + ".idx: byte 0: magic is 'MMIXIDX\\x00\\x00'"));
}

TEST_F(IndexedDatasetTest, RejectsWrongVersion) {
  std::string idx = good_idx_;
  poke<uint64_t>(idx, 9, 2);
  write_pair("v", idx, good_bin_);
  EXPECT_TRUE(contains(open_error("v"), prefix("v").string() + ".idx: byte 9: version is 2, expected 1"));
}

TEST_F(IndexedDatasetTest, RejectsUnsupportedDtypeCodesByName) {
  const std::pair<uint8_t, const char*> codes[] = {{1, "(uint8)"},   {3, "(int16)"},   {5, "(int64)"},
                                                   {6, "(float32)"}, {7, "(float64)"}, {0, "(unknown)"}};
  for (auto [code, name] : codes) {
    std::string idx = good_idx_;
    idx[17] = static_cast<char>(code);
    write_pair("d", idx, good_bin_);
    const std::string msg = open_error("d");
    EXPECT_TRUE(contains(msg, prefix("d").string() + ".idx: byte 17: dtype code " + std::to_string(code) + " " + name));
    EXPECT_TRUE(contains(msg, "expected 8 (uint16) or 4 (int32)"));
  }
}

TEST_F(IndexedDatasetTest, RejectsTruncatedIndexAtEveryKindOfLength) {
  const std::string idx_name = prefix("t").string() + ".idx";
  for (size_t len : {size_t{0}, size_t{5}, size_t{20}, size_t{33}}) {
    write_pair("t", good_idx_.substr(0, len), good_bin_);
    const std::string msg = open_error("t");
    EXPECT_TRUE(contains(msg, idx_name + ": file is " + std::to_string(len) + " bytes, too short")) << len;
  }
  const size_t full = good_idx_.size();
  for (size_t len : {size_t{34}, kSizes + 7, kPointers + 3, kDocIdx, full - 1}) {
    write_pair("t", good_idx_.substr(0, len), good_bin_);
    const std::string msg = open_error("t");
    EXPECT_TRUE(contains(
        msg, idx_name + ": file is " + std::to_string(len) + " bytes, expected exactly " + std::to_string(full)))
        << len;
    EXPECT_TRUE(contains(msg, "truncated"));
  }
  write_pair("t", good_idx_ + "junk", good_bin_);
  EXPECT_TRUE(contains(open_error("t"), "extra bytes after the doc_idx array"));
}

TEST_F(IndexedDatasetTest, RejectsImpossibleCounts) {
  std::string idx = good_idx_;
  poke<uint64_t>(idx, 18, uint64_t{1} << 62);
  write_pair("c", idx, good_bin_);
  EXPECT_TRUE(contains(open_error("c"), prefix("c").string() + ".idx: file is 142 bytes, but N and D"));
}

TEST_F(IndexedDatasetTest, RejectsBinOfTheWrongLength) {
  const std::string bin_name = prefix("b").string() + ".bin";
  write_pair("b", good_idx_, good_bin_.substr(0, good_bin_.size() - 2));
  std::string msg = open_error("b");
  EXPECT_TRUE(contains(msg, bin_name + ": file is 26 bytes, expected 28 (14 uint16 tokens"));
  EXPECT_TRUE(contains(msg, "truncated"));
  write_pair("b", good_idx_, good_bin_ + "xx");
  msg = open_error("b");
  EXPECT_TRUE(contains(msg, bin_name + ": file is 30 bytes, expected 28"));
  EXPECT_TRUE(contains(msg, "extra bytes"));
}

TEST_F(IndexedDatasetTest, RejectsMissingFiles) {
  testing::write_bytes(prefix("nobin").string() + ".idx", good_idx_);
  std::string msg = open_error("nobin");
  EXPECT_TRUE(contains(msg, prefix("nobin").string() + ".bin: cannot open: No such file or directory"));
  msg = open_error("nothing");
  EXPECT_TRUE(contains(msg, prefix("nothing").string() + ".idx: cannot open: No such file or directory"));
}

TEST_F(IndexedDatasetTest, RejectsNonContiguousPointers) {
  std::string idx = good_idx_;
  poke<int64_t>(idx, kPointers + 8 * 3, peek<int64_t>(idx, kPointers + 8 * 3) + 2);
  write_pair("p", idx, good_bin_);
  std::string msg = open_error("p");
  EXPECT_TRUE(contains(msg, prefix("p").string() + ".idx: byte " + std::to_string(kPointers + 24) +
                                ": pointer of sequence 3 is 16, expected 14 (pointer 2 + size 4 × 2 bytes)"));
  idx = good_idx_;
  poke<int64_t>(idx, kPointers, 2);
  write_pair("p", idx, good_bin_);
  EXPECT_TRUE(contains(open_error("p"), "byte 54: pointer of sequence 0 is 2, expected 0"));
}

TEST_F(IndexedDatasetTest, RejectsNegativeSize) {
  std::string idx = good_idx_;
  poke<int32_t>(idx, kSizes + 4, -1);
  write_pair("s", idx, good_bin_);
  EXPECT_TRUE(
      contains(open_error("s"), prefix("s").string() + ".idx: byte 38: size of sequence 1 is -1, expected ≥ 0"));
}

TEST_F(IndexedDatasetTest, RejectsInconsistentDocIdx) {
  const std::string name = prefix("di").string() + ".idx: byte ";
  std::string idx = good_idx_;
  poke<int64_t>(idx, kDocIdx, 1);
  write_pair("di", idx, good_bin_);
  EXPECT_TRUE(contains(open_error("di"), name + std::to_string(kDocIdx) + ": doc_idx[0] is 1, expected 0"));

  idx = good_idx_;
  poke<int64_t>(idx, kDocIdx + 16, 0);
  write_pair("di", idx, good_bin_);
  EXPECT_TRUE(contains(open_error("di"), name + std::to_string(kDocIdx + 16) +
                                             ": doc_idx[2] is 0, less than doc_idx[1] = 1: expected non-decreasing"));

  idx = good_idx_;
  poke<int64_t>(idx, kDocIdx + 40, 4);
  write_pair("di", idx, good_bin_);
  EXPECT_TRUE(contains(open_error("di"), name + std::to_string(kDocIdx + 40) + ": doc_idx[5] is 4, expected N = 5"));

  idx = good_idx_;
  poke<int64_t>(idx, kDocIdx + 40, 9);
  write_pair("di", idx, good_bin_);
  EXPECT_TRUE(contains(open_error("di"), "doc_idx[5] is 9, more than N = 5 sequences"));
}

}  // namespace
}  // namespace kiln
