#include "data/packed_documents.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "support/error_text.h"
#include "support/memory_document_store.h"

namespace kiln {
namespace {

using testing::MemoryDocumentStore;

struct Row {
  std::vector<int32_t> tokens, targets, positions, docs;
  std::vector<float> mask;
  explicit Row(int seq) : tokens(seq), targets(seq), positions(seq), docs(seq), mask(seq) {}
  SampleRow view() { return {tokens.data(), targets.data(), mask.data(), positions.data(), docs.data()}; }
};

std::shared_ptr<MemoryDocumentStore> store(const std::vector<std::vector<int32_t>>& docs) {
  return std::make_shared<MemoryDocumentStore>("mem", docs);
}

TEST(PackedDocuments, WindowsTileTheTokenStreamOverlappingByOne) {
  auto s = store(testing::numbered_documents(10, {3, 7, 1, 12}));  // 10 docs, 59 tokens
  const int seq = 8;
  PackedDocuments p(s, {0, 10}, seq, 1 << 30, {}, "train");
  ASSERT_EQ(p.size(), (s->num_tokens() - 1) / seq);
  const auto& all = s->all_tokens();
  for (uint64_t k = 0; k < p.size(); ++k) {
    Row r(seq);
    p.read(k, r.view());
    for (int t = 0; t < seq; ++t) {
      EXPECT_EQ(r.tokens[t], all[k * seq + t]);
      EXPECT_EQ(r.targets[t], all[k * seq + t + 1]);
      EXPECT_EQ(r.mask[t], 1.0f);
      EXPECT_EQ(r.positions[t], t) << "without reset_position_ids positions are 0 … seq−1";
      EXPECT_EQ(r.docs[t], 0) << "without reset_attention_mask one document per row";
    }
  }
}

TEST(PackedDocuments, DocumentBoundariesComeFromTheIndex) {
  // Documents of lengths 3, 0 (empty), 2, 5: boundaries at token offsets 3 and 5.
  auto s = store({{10, 11, 12}, {}, {20, 21}, {30, 31, 32, 33, 34}});
  PackedDocuments p(s, {0, 4}, 9, 100, {.reset_attention_mask = true, .reset_position_ids = true}, "train");
  Row r(9);
  p.read(0, r.view());
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{10, 11, 12, 20, 21, 30, 31, 32, 33}));
  EXPECT_EQ(r.targets, (std::vector<int32_t>{11, 12, 20, 21, 30, 31, 32, 33, 34}));
  EXPECT_EQ(r.docs, (std::vector<int32_t>{0, 0, 0, 1, 1, 2, 2, 2, 2}));
  EXPECT_EQ(r.positions, (std::vector<int32_t>{0, 1, 2, 0, 1, 0, 1, 2, 3}));
}

TEST(PackedDocuments, RowsStartingInsideADocumentCountFromTheRowStart) {
  auto s = store({{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10, 11}});
  PackedDocuments p(s, {0, 2}, 4, 100, {.reset_attention_mask = true, .reset_position_ids = true}, "train");
  Row r(4);
  p.read(1, r.view());  // tokens 4..7: 5 | 6 7 8 — a document starts at column 1
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{5, 6, 7, 8}));
  EXPECT_EQ(r.docs, (std::vector<int32_t>{0, 1, 1, 1}));
  EXPECT_EQ(r.positions, (std::vector<int32_t>{0, 0, 1, 2}));
}

TEST(PackedDocuments, RangeSelectsDocuments) {
  auto s = store(testing::numbered_documents(6, {5}));
  PackedDocuments p(s, {2, 4}, 4, 1 << 30, {}, "valid");  // tokens of documents 2 and 3 only
  EXPECT_EQ(p.tokens(), 10u);
  EXPECT_EQ(p.size(), 2u);
  Row r(4);
  p.read(1, r.view());
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{2004, 3000, 3001, 3002}));
  EXPECT_EQ(r.targets.back(), 3003);
}

TEST(PackedDocuments, TokenOutsideTheVocabularyNamesFileAndPosition) {
  auto s = store({{1, 2, 3}, {4, 99, 6, 7}});
  PackedDocuments p(s, {0, 2}, 3, 50, {}, "train");
  Row r(3);
  p.read(0, r.view());  // tokens 1 2 3 | target 4: fine
  const std::string message = testing::error_of([&] { p.read(1, r.view()); });
  for (const char* part : {"mem", "token 99", "token offset 4", "document 1", "position 1", "[0, 50)"})
    EXPECT_TRUE(testing::contains(message, part));
}

TEST(PackedDocuments, TooFewTokensForOneSampleIsAnError) {
  auto s = store({{1, 2, 3}});
  EXPECT_THROW(PackedDocuments(s, {0, 1}, 3, 50, {}, "train"), DataFormatError);
  const std::string message = testing::error_of([&] { PackedDocuments(s, {0, 1}, 3, 50, {}, "train"); });
  for (const char* part : {"mem", "train split", "3 tokens", "4 tokens"}) EXPECT_TRUE(testing::contains(message, part));
}

}  // namespace
}  // namespace kiln
