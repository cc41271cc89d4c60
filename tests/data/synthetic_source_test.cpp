#include "data/synthetic_source.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

namespace kiln {
namespace {

SyntheticOptions small(uint64_t seed = 7) {
  SyntheticOptions o;
  o.vocab_size = 64;
  o.seq_length = 48;
  o.seed = seed;
  o.reset_attention_mask = true;
  o.reset_position_ids = true;
  o.mean_doc_tokens = 12;  // several documents per row, so the reset flags have work to do
  return o;
}

// Every array of the batch, for whole-batch comparisons.
bool same(const BatchStorage& a, const BatchStorage& b) {
  return a.tokens == b.tokens && a.targets == b.targets && a.loss_mask == b.loss_mask &&
         a.position_ids == b.position_ids && a.doc_ids == b.doc_ids;
}

// Row r of a batch as a one-row batch.
BatchStorage row(const BatchStorage& s, int r) {
  BatchStorage out(1, s.seq);
  const auto first = static_cast<std::ptrdiff_t>(r) * s.seq, last = first + s.seq;
  out.tokens.assign(s.tokens.begin() + first, s.tokens.begin() + last);
  out.targets.assign(s.targets.begin() + first, s.targets.begin() + last);
  out.loss_mask.assign(s.loss_mask.begin() + first, s.loss_mask.begin() + last);
  out.position_ids.assign(s.position_ids.begin() + first, s.position_ids.begin() + last);
  out.doc_ids.assign(s.doc_ids.begin() + first, s.doc_ids.begin() + last);
  return out;
}

TEST(SyntheticSource, SameSeedGivesIdenticalBatches) {
  SyntheticSource a(small(), Split::train), b(small(), Split::train);
  BatchStorage x(4, 48), y(4, 48);
  for (int step = 0; step < 3; ++step) {
    a.next(x);
    b.next(y);
    EXPECT_TRUE(same(x, y)) << "step " << step;
  }
}

TEST(SyntheticSource, DifferentSeedsDiffer) {
  SyntheticSource a(small(7), Split::train), b(small(8), Split::train);
  BatchStorage x(4, 48), y(4, 48);
  a.next(x);
  b.next(y);
  EXPECT_NE(x.tokens, y.tokens);
  EXPECT_NE(a.state().fingerprint, b.state().fingerprint);
}

TEST(SyntheticSource, ValidSplitDiffersFromTrainButSharesTheLanguage) {
  SyntheticSource train(small(), Split::train), valid(small(), Split::valid);
  BatchStorage x(4, 48), y(4, 48);
  train.fill(x, 0);
  valid.fill(y, 0);
  EXPECT_NE(x.tokens, y.tokens);
  EXPECT_DOUBLE_EQ(train.optimal_loss(), valid.optimal_loss());
  EXPECT_NE(train.state().fingerprint, valid.state().fingerprint);

  // Same chain: every transition valid shows over many samples is one train shows too.
  BatchStorage big(400, 48);
  std::set<std::pair<int32_t, int32_t>> train_pairs;
  train.fill(big, 0);
  for (size_t i = 0; i < big.tokens.size(); ++i) train_pairs.insert({big.tokens[i], big.targets[i]});
  valid.fill(big, 0);
  size_t unseen = 0;
  for (size_t i = 0; i < big.tokens.size(); ++i) unseen += !train_pairs.count({big.tokens[i], big.targets[i]});
  EXPECT_LT(unseen, big.tokens.size() / 1000);  // only rare transitions may be missing by chance
}

TEST(SyntheticSource, FillAtKEqualsSkippingKSamples) {
  SyntheticSource stream(small(), Split::train), addressed(small(), Split::train);
  BatchStorage three(3, 48), four(4, 48), direct(4, 48);
  stream.next(three);
  stream.next(three);  // six samples consumed, in micro batches that do not divide the next one
  stream.next(four);
  addressed.fill(direct, 6);
  EXPECT_TRUE(same(four, direct));
  EXPECT_EQ(addressed.state().next_sample, 0u) << "fill must not move the cursor";
}

TEST(SyntheticSource, SampleDoesNotDependOnBatchShape) {
  // What makes the global order independent of the rank count: row j of a batch starting at
  // sample k is sample k + j, whoever asks for it.
  SyntheticSource src(small(), Split::train);
  BatchStorage wide(8, 48), one(1, 48);
  src.fill(wide, 100);
  for (int j = 0; j < 8; ++j) {
    src.fill(one, 100 + j);
    EXPECT_TRUE(same(row(wide, j), one)) << "row " << j;
  }
}

TEST(SyntheticSource, StateAndRestoreContinueExactly) {
  SyntheticSource run(small(), Split::train);
  BatchStorage b(4, 48), expected(4, 48), resumed(4, 48);
  for (int i = 0; i < 5; ++i) run.next(b);
  const DataState saved = run.state();
  EXPECT_EQ(saved.next_sample, 20u);
  run.next(expected);

  SyntheticSource fresh(small(), Split::train);
  fresh.restore(saved);
  EXPECT_EQ(fresh.state(), saved);
  fresh.next(resumed);
  EXPECT_TRUE(same(expected, resumed));
}

TEST(SyntheticSource, RestoreRejectsAnotherStream) {
  SyntheticSource a(small(7), Split::train), other_seed(small(8), Split::train),
      other_split(small(7), Split::valid);
  SyntheticOptions longer = small(7);
  longer.seq_length = 64;
  SyntheticSource other_shape(longer, Split::train);
  EXPECT_THROW(other_seed.restore(a.state()), std::invalid_argument);
  EXPECT_THROW(other_split.restore(a.state()), std::invalid_argument);
  EXPECT_THROW(other_shape.restore(a.state()), std::invalid_argument);
}

TEST(SyntheticSource, TargetsAreTheNextTokens) {
  SyntheticSource src(small(), Split::train);
  BatchStorage b(6, 48);
  src.fill(b, 3);
  for (int r = 0; r < b.batch; ++r)
    for (int t = 0; t + 1 < b.seq; ++t) EXPECT_EQ(b.targets[r * b.seq + t], b.tokens[r * b.seq + t + 1]);
  for (float m : b.loss_mask) EXPECT_EQ(m, 1.0f);

  // The last column's target is the token the stream continues with: a longer row extends a
  // shorter one.
  SyntheticOptions longer = small();
  longer.seq_length = 49;
  SyntheticSource ext(longer, Split::train);
  BatchStorage e(6, 49);
  ext.fill(e, 3);
  for (int r = 0; r < b.batch; ++r) {
    for (int t = 0; t < b.seq; ++t) EXPECT_EQ(b.tokens[r * 48 + t], e.tokens[r * 49 + t]);
    EXPECT_EQ(b.targets[r * 48 + 47], e.tokens[r * 49 + 48]);
  }
}

TEST(SyntheticSource, IdsAreInsideTheVocabulary) {
  SyntheticSource src(small(), Split::train);
  BatchStorage b(32, 48);
  src.fill(b, 0);
  for (size_t i = 0; i < b.tokens.size(); ++i) {
    EXPECT_GE(b.tokens[i], 0);
    EXPECT_LT(b.tokens[i], 64);
    EXPECT_GE(b.targets[i], 0);
    EXPECT_LT(b.targets[i], 64);
  }
  EXPECT_EQ(src.eod_token(), 63);
}

// Expected ids written independently of the implementation's loop: the document of column t is
// the number of EODs before it; its position counts from just after the last of them.
void expect_ids_follow_flags(bool reset_attention, bool reset_positions) {
  SyntheticOptions o = small();
  o.reset_attention_mask = reset_attention;
  o.reset_position_ids = reset_positions;
  SyntheticSource src(o, Split::train);
  BatchStorage b(16, 48);
  src.fill(b, 0);
  int mid_row_documents = 0;
  for (int r = 0; r < b.batch; ++r) {
    int eods_before = 0, last_eod = -1;
    for (int t = 0; t < b.seq; ++t) {
      const int i = r * b.seq + t;
      EXPECT_EQ(b.doc_ids[i], reset_attention ? eods_before : 0) << "row " << r << " col " << t;
      EXPECT_EQ(b.position_ids[i], reset_positions ? t - (last_eod + 1) : t) << "row " << r << " col " << t;
      if (b.tokens[i] == src.eod_token()) {
        ++eods_before;
        last_eod = t;
        mid_row_documents += t + 1 < b.seq;
      }
    }
  }
  EXPECT_GT(mid_row_documents, 10) << "the test needs document starts inside rows";
}

TEST(SyntheticSource, IdsFollowResetFlagsBothOn) { expect_ids_follow_flags(true, true); }
TEST(SyntheticSource, IdsFollowResetFlagsBothOff) { expect_ids_follow_flags(false, false); }
TEST(SyntheticSource, IdsFollowResetFlagsAttentionOnly) { expect_ids_follow_flags(true, false); }
TEST(SyntheticSource, IdsFollowResetFlagsPositionsOnly) { expect_ids_follow_flags(false, true); }

TEST(SyntheticSource, OptimalLossIsLearnableAndMatchesTheData) {
  SyntheticSource src(small(), Split::train);
  const double loss = src.optimal_loss();
  EXPECT_GT(loss, 0.5);
  EXPECT_LT(loss, 0.5 * std::log(64.0));

  // The plug-in conditional entropy of the (token → target) pairs converges to the optimal loss;
  // with ~600k pairs over ~300 transitions its bias and noise are well under 1%.
  BatchStorage b(12500, 48);
  src.fill(b, 0);
  std::map<int32_t, std::map<int32_t, double>> counts;
  for (size_t i = 0; i < b.tokens.size(); ++i) counts[b.tokens[i]][b.targets[i]] += 1;
  const double n = static_cast<double>(b.tokens.size());
  double entropy = 0;
  for (const auto& [token, next] : counts) {
    double total = 0;
    for (const auto& [_, c] : next) total += c;
    for (const auto& [_, c] : next) entropy -= c / n * std::log(c / total);
    // Sparse: a word has its successors and EOD; EOD has successors only.
    EXPECT_LE(next.size(), token == src.eod_token() ? 4u : 5u) << "token " << token;
    if (token == src.eod_token()) {
      EXPECT_EQ(next.count(src.eod_token()), 0u);
    }
  }
  EXPECT_NEAR(entropy, loss, 0.01 * loss);

  // Documents end at the configured rate: the EOD fraction is p/(1+p) with p = 1/12.
  double eods = 0;
  for (int32_t t : b.tokens) eods += t == src.eod_token();
  const double eod_fraction = eods / n;
  EXPECT_NEAR(eod_fraction, 1.0 / 13.0, 0.003);
}

TEST(SyntheticSource, OptimalLossAtDefaultsIsWellBelowUniform) {
  SyntheticOptions o;
  o.vocab_size = 50304;
  o.seq_length = 16;
  SyntheticSource src(o, Split::train);
  EXPECT_GT(src.optimal_loss(), 1.0);
  EXPECT_LT(src.optimal_loss(), 1.5);  // against ln(50304) ≈ 10.8 for a model that knows nothing
}

TEST(SyntheticSource, RejectsBadOptionsAndShapes) {
  SyntheticOptions o = small();
  o.vocab_size = 4;  // 3 words cannot hold 4 distinct successors
  EXPECT_THROW(SyntheticSource(o, Split::train), std::invalid_argument);
  o = small();
  o.seq_length = 0;
  EXPECT_THROW(SyntheticSource(o, Split::train), std::invalid_argument);
  o = small();
  o.mean_doc_tokens = 0.5;
  EXPECT_THROW(SyntheticSource(o, Split::train), std::invalid_argument);
  o = small();
  o.successors = 0;
  EXPECT_THROW(SyntheticSource(o, Split::train), std::invalid_argument);

  SyntheticSource src(small(), Split::train);
  BatchStorage wrong(2, 32);
  EXPECT_THROW(src.fill(wrong, 0), std::invalid_argument);
}

TEST(SyntheticSource, SmallestVocabularyWorks) {
  SyntheticOptions o = small();
  o.vocab_size = 5;  // 4 words, every one a successor of every token
  SyntheticSource src(o, Split::train);
  BatchStorage b(4, 48);
  src.fill(b, 0);
  for (int32_t t : b.tokens) EXPECT_LT(t, 5);
}

TEST(SyntheticSource, OptionsFromConfig) {
  ModelConfig model{};
  model.vocab_size = 1000;
  model.seq_length = 256;
  DataConfig data{};
  data.seed = 1234;
  data.reset_attention_mask = true;
  data.reset_position_ids = false;
  const SyntheticOptions o = SyntheticOptions::from_config(model, data);
  EXPECT_EQ(o.vocab_size, 1000);
  EXPECT_EQ(o.seq_length, 256);
  EXPECT_EQ(o.seed, 1234u);
  EXPECT_TRUE(o.reset_attention_mask);
  EXPECT_FALSE(o.reset_position_ids);
  EXPECT_NE(SyntheticSource(o, Split::train).describe().find("seed 1234"), std::string::npos);
}

// Without document structure (reset_attention_mask off) the view hands attention no ids, so it
// takes its plain causal path; with it the ids are the storage's.
TEST(SyntheticSource, ViewCarriesDocumentIdsOnlyWithDocuments) {
  SyntheticSource src(small(), Split::train);
  BatchStorage b(2, 48);
  src.fill(b, 0);
  EXPECT_EQ(b.view(false).doc_ids, nullptr);
  EXPECT_EQ(b.view(true).doc_ids, b.doc_ids.data());
  EXPECT_EQ(b.view(false).tokens, b.tokens.data());
  EXPECT_EQ(b.view(false).position_ids, b.position_ids.data());
}

}  // namespace
}  // namespace kiln
