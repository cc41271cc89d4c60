// Cerebras GptHDF5MapDataProcessor files: reading the h5py-written fixture, the chunk cache,
// conversion to documents, kiln's writer for the layout, and the reader's refusals.
//
// Fixture: tests/fixtures/data/cerebras_tiny.h5, written by make_fixtures.py with h5py: the four
// kCerebrasDocs each followed by id 50256, packed into pieces of MSL + 1 = 9 tokens, MSL = 8,
// chunks of 2 rows, gzip, attribute n_examples = 4.
#include "data/formats/cerebras_hdf5.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "data/formats/format_test_util.h"
#include "data/formats/h5_builder.h"
#include "data/formats/indexed_dataset.h"
#include "support/error_text.h"
#include "support/temp_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using kiln::testing::contains;
using kiln::testing::Documents;
using kiln::testing::error_of;
using kiln::testing::fixture;
using kiln::testing::H5Builder;

struct Row {
  std::vector<int32_t> input, mask, labels;
  bool operator==(const Row&) const = default;
};

// The Model Zoo packing, as make_fixtures.py's cerebras_rows does it.
std::vector<Row> packed_rows(const Documents& docs, int32_t eod, size_t msl) {
  std::vector<int32_t> stream;
  for (const auto& d : docs) {
    stream.insert(stream.end(), d.begin(), d.end());
    stream.push_back(eod);
  }
  std::vector<Row> rows;
  for (size_t start = 0; start < stream.size(); start += msl + 1) {
    const size_t len = std::min(msl + 1, stream.size() - start) - 1;
    Row r{std::vector<int32_t>(msl, 0), std::vector<int32_t>(msl, 0), std::vector<int32_t>(msl, 0)};
    for (size_t i = 0; i < len; ++i) {
      r.input[i] = stream[start + i];
      r.labels[i] = stream[start + i + 1];
      r.mask[i] = 1;
    }
    rows.push_back(r);
  }
  return rows;
}

Row read_row(CerebrasSamples& s, uint64_t k) {
  const size_t msl = s.max_seq_length();
  Row r{std::vector<int32_t>(msl), std::vector<int32_t>(msl), std::vector<int32_t>(msl)};
  s.read_sample(k, r.input, r.labels, r.mask);
  return r;
}

Documents with_eod(Documents docs, int32_t eod) {
  for (auto& d : docs) d.push_back(eod);
  return docs;
}

class CerebrasTest : public ::testing::Test {
 protected:
  fs::path file(const std::string& name) const { return dir_ / name; }
  std::string open_error(const fs::path& p) const {
    return error_of([&] { CerebrasSamples s(p); });
  }

  kiln::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
};

TEST_F(CerebrasTest, ReadsTheH5pyFixture) {
  CerebrasSamples s(fixture("cerebras_tiny.h5"));
  EXPECT_EQ(s.num_samples(), 4u);
  EXPECT_EQ(s.max_seq_length(), 8u);
  EXPECT_EQ(s.rows_per_read(), 2u);  // one chunk of 2 rows
  const auto expected = packed_rows(testing::kCerebrasDocs, testing::kCerebrasEod, 8);
  ASSERT_EQ(expected.size(), 4u);
  // Known values, spelled out for row 2: "<eod> 40 41 <eod> 50 51 52 53" → labels shifted.
  EXPECT_EQ(read_row(s, 2).input, (std::vector<int32_t>{50256, 40, 41, 50256, 50, 51, 52, 53}));
  EXPECT_EQ(read_row(s, 3).mask, (std::vector<int32_t>{1, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(read_row(s, 3).labels, (std::vector<int32_t>{56, 50256, 0, 0, 0, 0, 0, 0}));
  // Random order, crossing chunks back and forth.
  for (uint64_t k : {3u, 0u, 2u, 1u, 1u, 3u, 0u}) EXPECT_EQ(read_row(s, k), expected[k]) << k;
}

TEST_F(CerebrasTest, ReadsSeveralChunksAtOnceWhenAsked) {
  CerebrasSamples s(fixture("cerebras_tiny.h5"), CerebrasSamples::Options{3});
  EXPECT_EQ(s.rows_per_read(), 4u);  // rounded up to whole chunks, capped at N
  const auto expected = packed_rows(testing::kCerebrasDocs, testing::kCerebrasEod, 8);
  for (uint64_t k = 0; k < 4; ++k) EXPECT_EQ(read_row(s, k), expected[k]);
}

TEST_F(CerebrasTest, ReadSampleChecksItsArguments) {
  CerebrasSamples s(fixture("cerebras_tiny.h5"));
  std::vector<int32_t> a(8), b(8), c(7);
  EXPECT_THROW(s.read_sample(4, a, b, a), std::out_of_range);
  EXPECT_THROW(s.read_sample(0, a, b, c), std::invalid_argument);
}

TEST_F(CerebrasTest, ConvertsBackToTheOriginalDocuments) {
  CerebrasSamples s(fixture("cerebras_tiny.h5"));
  Documents docs;
  const uint64_t n = cerebras_documents(s, testing::kCerebrasEod,
                                        [&](std::span<const int32_t> d) { docs.emplace_back(d.begin(), d.end()); });
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(docs, with_eod(testing::kCerebrasDocs, testing::kCerebrasEod));

  // Without an end-of-document id every row's piece is a document: 9, 9, 9 and 3 tokens.
  docs.clear();
  cerebras_documents(s, -1, [&](std::span<const int32_t> d) { docs.emplace_back(d.begin(), d.end()); });
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(docs[3], (std::vector<int32_t>{55, 56, 50256}));
  EXPECT_EQ(docs[1], (std::vector<int32_t>{23, 24, 25, 26, 27, 28, 29, 30, 31}));

  // Into a document writer, then read back as an mmap store.
  auto w = create_document_writer(file("conv"), ShardFormat::mmap, 50257);
  cerebras_documents(s, testing::kCerebrasEod, *w);
  w->finish();
  IndexedDataset ds(file("conv"));
  EXPECT_EQ(testing::read_documents(ds), with_eod(testing::kCerebrasDocs, testing::kCerebrasEod));
}

TEST_F(CerebrasTest, WriterRoundTripsThroughReaderAndConversion) {
  const int32_t eod = 999;
  const size_t msl = 16;
  Documents docs = testing::random_documents(60, 40, 999, 9);  // ids < 999: eod only at the ends
  std::vector<int32_t> stream;
  for (const auto& d : docs) {
    stream.insert(stream.end(), d.begin(), d.end());
    stream.push_back(eod);
  }
  // A last piece of one token cannot make a row; keep this stream clear of that case.
  if (stream.size() % (msl + 1) == 1) {
    docs.back().push_back(7);
    stream.insert(stream.end() - 1, 7);
  }
  const auto rows = packed_rows(docs, eod, msl);
  {
    CerebrasWriter w(file("w.h5"), msl, 3);
    for (size_t start = 0; start < stream.size(); start += msl + 1) {
      w.add_piece(std::span<const int32_t>(stream.data() + start, std::min(msl + 1, stream.size() - start)));
    }
    EXPECT_EQ(w.num_samples(), rows.size());
    w.finish();
  }
  CerebrasSamples s(file("w.h5"));
  EXPECT_EQ(s.num_samples(), rows.size());
  EXPECT_EQ(s.rows_per_read(), 3u);
  for (uint64_t k = 0; k < rows.size(); ++k) EXPECT_EQ(read_row(s, k), rows[k]) << k;
  Documents back;
  cerebras_documents(s, eod, [&](std::span<const int32_t> d) { back.emplace_back(d.begin(), d.end()); });
  EXPECT_EQ(back, with_eod(docs, eod));  // empty documents come back as their lone end-of-document id
  EXPECT_EQ(testing::listing(dir_), std::vector<std::string>{"w.h5"});
}

TEST_F(CerebrasTest, WriterWithoutFinishLeavesNoFiles) {
  {
    CerebrasWriter w(file("gone.h5"), 8, 1);
    const std::vector<int32_t> piece = {1, 2, 3};
    w.add_piece(piece);
    w.add_piece(piece);
  }
  EXPECT_TRUE(testing::listing(dir_).empty());
}

TEST_F(CerebrasTest, WriterRejectsRowsOfTheWrongLength) {
  CerebrasWriter w(file("x.h5"), 4, 1);
  const std::vector<int32_t> three = {1, 2, 3}, four = {1, 2, 3, 4};
  EXPECT_TRUE(contains(error_of([&] { w.add(three, four, four); }), file("x.h5").string() + ": row 0 needs 4 values"));
  EXPECT_TRUE(
      contains(error_of([&] { w.add_piece(std::vector<int32_t>(6, 1)); }), "a piece of 6 tokens, expected 2 … 5"));
}

// ---- refusals ---------------------------------------------------------------------------------

TEST_F(CerebrasTest, RejectsMissingTruncatedAndNonCerebrasFiles) {
  EXPECT_TRUE(contains(open_error(file("absent.h5")), file("absent.h5").string() + ": no such file"));
  const std::string whole = testing::read_file(fixture("cerebras_tiny.h5"));
  for (size_t len : {size_t{10}, whole.size() / 2, whole.size() - 1}) {
    testing::write_bytes(file("t.h5"), whole.substr(0, len));
    const std::string msg = open_error(file("t.h5"));
    EXPECT_TRUE(contains(msg, file("t.h5").string() + ": cannot open as an HDF5 file")) << len;
  }
  testing::write_documents(file("kiln.h5"), ShardFormat::hdf5, 100, {{1}});
  EXPECT_TRUE(contains(open_error(file("kiln.h5")), file("kiln.h5").string() + ": dataset /data is missing"));
}

TEST_F(CerebrasTest, RejectsWrongShapeRankAndType) {
  {
    H5Builder b(file("shape.h5"));
    b.attr("n_examples", 1).dataset("data", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 2, 4}, std::vector<int32_t>(8, 1));
  }
  EXPECT_TRUE(contains(open_error(file("shape.h5")),
                       file("shape.h5").string() + ": dataset /data has shape [1, 2, 4], expected [N, 3, MSL]"));
  {
    H5Builder b(file("rank.h5"));
    b.attr("n_examples", 3).dataset("data", H5T_STD_I32LE, H5T_NATIVE_INT32, {3, 4}, std::vector<int32_t>(12, 1));
  }
  EXPECT_TRUE(contains(open_error(file("rank.h5")),
                       file("rank.h5").string() + ": dataset /data has rank 2 (shape [3, 4]), expected 3"));
  {
    H5Builder b(file("float.h5"));
    b.attr("n_examples", 1).dataset("data", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 3, 2}, std::vector<float>(6, 1));
  }
  EXPECT_TRUE(contains(open_error(file("float.h5")), ": dataset /data has type float32, expected int32"));
  {
    H5Builder b(file("i64.h5"));
    b.attr("n_examples", 1).dataset("data", H5T_STD_I64LE, H5T_NATIVE_INT64, {1, 3, 2}, std::vector<int64_t>(6, 1));
  }
  EXPECT_TRUE(contains(open_error(file("i64.h5")), ": dataset /data has type int64, expected int32"));
}

TEST_F(CerebrasTest, RejectsMissingOrWrongExampleCount) {
  {
    H5Builder b(file("noattr.h5"));
    b.dataset("data", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 3, 2}, std::vector<int32_t>(6, 1), {1, 3, 2});
  }
  EXPECT_TRUE(
      contains(open_error(file("noattr.h5")), file("noattr.h5").string() + ": root attribute 'n_examples' is missing"));
  {
    H5Builder b(file("count.h5"));
    b.attr("n_examples", 5).dataset("data", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 3, 2}, std::vector<int32_t>(6, 1));
  }
  EXPECT_TRUE(contains(open_error(file("count.h5")), "root attribute 'n_examples' is 5 but dataset /data has 1 rows"));
}

}  // namespace
}  // namespace kiln
