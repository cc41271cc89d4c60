// From a config's data section to train and validation streams over real shard files.
#include "data/shard_streams.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <vector>

#include "data/formats/cerebras_hdf5.h"
#include "data/formats/document_store.h"
#include "support/error_text.h"
#include "support/memory_document_store.h"
#include "support/temp_dir.h"

namespace kiln {
namespace {

constexpr int kSeq = 8;
constexpr int64_t kVocab = 50000;

// A shard of `count` documents of 6 to 20 tokens; token = d·100 + p names its document d.
std::string write_shard(const testing::TempDir& dir, const std::string& name, int count, int32_t base,
                        ShardFormat format = ShardFormat::mmap) {
  const auto path = dir.path() / name;
  auto writer = create_document_writer(path, format, kVocab);
  const int lengths[] = {6, 11, 3, 20};
  for (int d = 0; d < count; ++d) {
    std::vector<int32_t> doc;
    for (int p = 0; p < lengths[d % 4]; ++p) doc.push_back(base + d * 100 + p);
    writer->add(doc);
  }
  writer->finish();
  return path.string();
}

DataConfig config(std::vector<std::string> train, std::vector<double> split = {0.8, 0.2, 0.0}) {
  DataConfig d;
  d.train_paths = std::move(train);
  d.format = DataFormat::mmap;
  d.seed = 7;
  d.split = std::move(split);
  d.reset_attention_mask = true;
  d.reset_position_ids = true;
  return d;
}

std::set<int32_t> tokens_of(const DataSource& s, uint64_t samples) {
  BatchStorage b(static_cast<int>(samples), kSeq);
  s.fill(b, 0);
  return {b.tokens.begin(), b.tokens.end()};
}

TEST(ShardStreams, ValidationIsCarvedFromTheDocumentsAfterTrain) {
  testing::TempDir dir;
  const auto path = write_shard(dir, "corpus", 100, 0);
  ShardStreams s = open_shard_streams(config({path}), kVocab, kSeq);
  ASSERT_TRUE(s.valid);
  // Documents 0 … 79 train, 80 … 99 validate.
  for (int32_t t : tokens_of(*s.train, 100)) EXPECT_LT(t / 100, 80) << t;
  for (int32_t t : tokens_of(*s.valid, 20)) EXPECT_GE(t / 100, 80) << t;
}

TEST(ShardStreams, DefaultWeightsFollowSize) {
  testing::TempDir dir;
  const auto big = write_shard(dir, "big", 300, 0), small = write_shard(dir, "small", 100, 0);
  ShardStreams s = open_shard_streams(config({big, small}), kVocab, kSeq);
  const auto& ds = s.train->datasets();
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].weight, static_cast<double>(ds[0].dataset->tokens()));
  EXPECT_GT(ds[0].weight, 2.5 * ds[1].weight);
}

TEST(ShardStreams, ExplicitValidationPathsAndWeights) {
  testing::TempDir dir;
  const auto a = write_shard(dir, "a", 50, 0), b = write_shard(dir, "b", 50, 0), v = write_shard(dir, "v", 30, 0);
  DataConfig d = config({a, b});
  d.train_weights = {1, 3};
  d.valid_paths = {v};
  ShardStreams s = open_shard_streams(d, kVocab, kSeq);
  EXPECT_EQ(s.train->datasets()[1].weight, 3.0);
  ASSERT_TRUE(s.valid);
  EXPECT_EQ(s.valid->datasets().size(), 1u);
  EXPECT_EQ(s.valid->datasets()[0].dataset->tokens(), open_document_store(v, ShardFormat::mmap)->num_tokens())
      << "the whole validation file, not a split of it";
}

TEST(ShardStreams, NoValidationWhenTheSplitAsksForNone) {
  testing::TempDir dir;
  const auto path = write_shard(dir, "corpus", 20, 0);
  EXPECT_FALSE(open_shard_streams(config({path}, {1, 0, 0}), kVocab, kSeq).valid);
}

TEST(ShardStreams, HdfShardsLoadLikeMmapOnes) {
  testing::TempDir dir;
  const auto m = write_shard(dir, "corpus", 60, 0), h = write_shard(dir, "corpus.h5", 60, 0, ShardFormat::hdf5);
  DataConfig dm = config({m}), dh = config({h});
  dh.format = DataFormat::hdf5;
  ShardStreams sm = open_shard_streams(dm, kVocab, kSeq), sh = open_shard_streams(dh, kVocab, kSeq);
  BatchStorage x(16, kSeq), y(16, kSeq);
  sm.train->fill(x, 3);
  sh.train->fill(y, 3);
  EXPECT_EQ(x.tokens, y.tokens);
  EXPECT_EQ(x.doc_ids, y.doc_ids);
}

TEST(ShardStreams, CerebrasRowsAreSamplesWithTheirOwnMaskAndEodDocuments) {
  testing::TempDir dir;
  const auto path = dir.path() / "btlm.h5";
  {
    CerebrasWriter w(path, kSeq);
    for (int r = 0; r < 40; ++r) {
      // Pieces of kSeq + 1 tokens; token 7 is the EOD; the last row is short (padded, mask 0).
      std::vector<int32_t> piece;
      const int len = r == 39 ? 5 : kSeq + 1;
      for (int i = 0; i < len; ++i) piece.push_back(i == 3 ? 7 : 100 + r * 10 + i);
      w.add_piece(piece);
    }
    w.finish();
  }
  DataConfig d = config({path.string()}, {1, 0, 0});
  d.format = DataFormat::hdf5;
  d.eod_token_id = 7;
  ShardStreams s = open_shard_streams(d, kVocab, kSeq);
  const uint64_t rows = s.train->datasets()[0].dataset->size();
  EXPECT_EQ(rows, 40u);
  BatchStorage b(static_cast<int>(rows), kSeq);
  s.train->fill(b, 0);  // one epoch: every row once, in shuffled order
  int short_rows = 0;
  for (int r = 0; r < static_cast<int>(rows); ++r) {
    const size_t o = static_cast<size_t>(r) * kSeq;
    EXPECT_EQ(b.tokens[o + 3], 7);
    EXPECT_EQ(b.doc_ids[o + 3], 0) << "the EOD belongs to the document it ends";
    EXPECT_EQ(b.doc_ids[o + 4], 1);
    EXPECT_EQ(b.position_ids[o + 4], 0);
    if (b.loss_mask[o + kSeq - 1] == 0.0f) ++short_rows;
    else EXPECT_EQ(b.targets[o], b.tokens[o + 1]);
  }
  EXPECT_EQ(short_rows, 1) << "the padded row keeps its mask";

  const std::string m = testing::error_of([&] { open_shard_streams(d, kVocab, kSeq * 2); });
  EXPECT_TRUE(testing::contains(m, "model.seq_length is 16")) << m;
  d.eod_token_id.reset();
  EXPECT_TRUE(testing::contains(testing::error_of([&] { open_shard_streams(d, kVocab, kSeq); }), "data.eod_token_id"));
}

TEST(ShardStreams, BadInputIsNamed) {
  testing::TempDir dir;
  const auto tiny = write_shard(dir, "tiny", 1, 0);  // 6 tokens
  const auto ok = write_shard(dir, "ok", 100, 0);
  auto message = [](const DataConfig& d) { return testing::error_of([&] { open_shard_streams(d, kVocab, kSeq); }); };

  EXPECT_TRUE(testing::contains(message(config({(dir.path() / "missing").string()})), "missing"));
  EXPECT_TRUE(testing::contains(message(config({})), "data.train_paths"));
  const auto short_tail = write_shard(dir, "short_tail", 3, 0);  // documents of 6, 11 and 3 tokens
  const std::string no_valid = message(config({short_tail}, {2, 1, 0}));  // validation: 3 tokens
  EXPECT_TRUE(testing::contains(no_valid, "no validation sample")) << no_valid;
  EXPECT_TRUE(testing::contains(no_valid, "data.split[1]"));
  const std::string too_small = message(config({tiny}, {1, 0, 0}));
  EXPECT_TRUE(testing::contains(too_small, "tiny")) << too_small;
  EXPECT_TRUE(testing::contains(too_small, "fewer than one sample"));
  EXPECT_NO_THROW(open_shard_streams(config({ok}), kVocab, kSeq));
}

TEST(ShardStreams, TokensBeyondTheModelVocabularyStopTheStream) {
  testing::TempDir dir;
  const auto path = write_shard(dir, "corpus", 100, 0);
  ShardStreams s = open_shard_streams(config({path}, {1, 0, 0}), /*vocab_size=*/5000, kSeq);
  BatchStorage b(64, kSeq);
  const std::string m = testing::error_of([&] { s.train->fill(b, 0); });
  EXPECT_TRUE(testing::contains(m, "outside the model's vocabulary [0, 5000)")) << m;
  EXPECT_TRUE(testing::contains(m, "corpus"));
}

}  // namespace
}  // namespace kiln
