// verify(): token ids against the vocabulary, width against the vocabulary, structure through the
// readers, and Cerebras rows (mask values, label shift, ids).
#include "data/formats/verify.h"

#include <gtest/gtest.h>

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
using kiln::testing::fixture;
using kiln::testing::H5Builder;

std::string all(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

class VerifyTest : public ::testing::Test {
 protected:
  fs::path file(const std::string& name) const { return dir_ / name; }
  kiln::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
};

TEST_F(VerifyTest, CleanFixturesPass) {
  const std::pair<const char*, int64_t> cases[] = {
      {"neox_uint16", 50257}, {"neox_int32.bin", 100352}, {"cerebras_tiny.h5", 50257}};
  for (auto [name, vocab] : cases) {
    const auto r = verify_path(fixture(name), vocab);
    EXPECT_TRUE(r.ok()) << name << ": " << all(r.problems);
    EXPECT_EQ(r.bad_tokens, 0u);
  }
  const auto r = verify_path(fixture("neox_uint16"), 50257);
  EXPECT_EQ(r.format, "mmap");
  EXPECT_EQ(r.documents, 5u);
  EXPECT_EQ(r.tokens, 14u);
  EXPECT_TRUE(r.warnings.empty()) << all(r.warnings);
}

// The writer refuses such ids, so the shard is made with a larger vocabulary and checked against
// a smaller one (what happens when a shard meets the wrong tokenizer).
TEST_F(VerifyTest, FindsTokensOutsideTheVocabularyWithTheirDocument) {
  testing::write_documents(file("x"), ShardFormat::mmap, 50257, {{1, 2}, {}, {3, 40000, 5}, {40001}});
  const auto r = verify_path(file("x"), 32000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.bad_tokens, 2u);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_TRUE(contains(r.problems[0], file("x").string() +
                                          ".bin: document 2, token 1 (stream offset 3): id 40000 is "
                                          "outside the vocabulary [0, 32000); 2 tokens are out of range"));
}

TEST_F(VerifyTest, UsesTheVocabularyAnHdf5ShardRecords) {
  testing::write_documents(file("k.h5"), ShardFormat::hdf5, 300, {{1, 299}, {0}});
  auto r = verify_path(file("k.h5"), 0);
  EXPECT_TRUE(r.ok()) << all(r.problems);
  EXPECT_EQ(r.vocab_size, 300);
  r = verify_path(file("k.h5"), 200);
  EXPECT_EQ(r.bad_tokens, 1u);
  EXPECT_TRUE(contains(all(r.problems), file("k.h5").string() + ": document 0, token 1 (stream offset 1): id 299"));
  EXPECT_TRUE(contains(all(r.warnings), "the file records vocab_size 300, checking against 200"));
}

TEST_F(VerifyTest, ChecksTheTokenWidthAgainstTheVocabulary) {
  auto r = verify_path(fixture("neox_uint16"), 100000);
  EXPECT_TRUE(contains(all(r.problems), "tokens are uint16, which cannot hold the ids of a vocabulary of 100000"));
  r = verify_path(fixture("neox_uint16"), 65520);  // fits, but NeoX would have used int32
  EXPECT_TRUE(r.ok()) << all(r.problems);
  EXPECT_TRUE(contains(all(r.warnings), "tokens are uint16 but a vocabulary of 65520 would be written as int32"));
  r = verify_path(fixture("neox_int32"), 0);
  EXPECT_TRUE(contains(all(r.warnings), "no vocabulary size given"));
}

TEST_F(VerifyTest, ReportsStructuralFaultsAsProblems) {
  testing::write_bytes(file("broken.idx"), "MMIDIDX");
  auto r = verify_path(file("broken"), 100);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_TRUE(contains(r.problems[0], file("broken.idx").string() + ": file is 7 bytes"));
  r = verify_path(file("none"), 100);
  EXPECT_TRUE(contains(all(r.problems), "cannot tell the format"));
}

TEST_F(VerifyTest, ChecksCerebrasRows) {
  // Row 0 is clean; row 1 has a mask value 2 at 3, a label that is not the next input at 0, and
  // an id beyond the vocabulary at 1.
  const std::vector<int32_t> data = {
      5, 6,  7, 8, /**/ 1, 1, 1, 0, /**/ 6, 7, 9, 0,  // last real label (9) is unchecked
      1, 50, 3, 4, /**/ 1, 1, 1, 2, /**/ 9, 3, 4, 5,
  };
  {
    H5Builder b(file("c.h5"));
    b.attr("n_examples", 2).dataset("data", H5T_STD_I32LE, H5T_NATIVE_INT32, {2, 3, 4}, data, {1, 3, 4});
  }
  const auto r = verify_path(file("c.h5"), 40);
  EXPECT_EQ(r.format, "cerebras hdf5");
  const std::string p = all(r.problems);
  const std::string name = file("c.h5").string();
  EXPECT_TRUE(contains(p, name + ": sample 1, position 3: loss mask is 2, expected 0 or 1"));
  EXPECT_TRUE(contains(p, name + ": sample 1, position 0: label 9 differs from input_ids[1] = 50"));
  EXPECT_TRUE(contains(p, name + ": sample 1, position 1: input id 50 is outside the vocabulary [0, 40)"));
  EXPECT_EQ(r.problems.size(), 3u) << p;
  EXPECT_EQ(r.bad_tokens, 1u);
}

TEST_F(VerifyTest, ReportsCerebrasShapeProblems) {
  {
    H5Builder b(file("bad.h5"));
    b.attr("n_examples", 1).dataset("data", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 4, 2}, std::vector<int32_t>(8, 0));
  }
  const auto r = verify_path(file("bad.h5"), 40);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_TRUE(contains(r.problems[0], "dataset /data has shape [1, 4, 2], expected [N, 3, MSL]"));
}

}  // namespace
}  // namespace kiln
