// BpeTrainer: determinism, vocabulary size, special tokens, round trips, and Hugging Face parity
// of what it writes.
//
// Fixtures (tests/fixtures/tokenizer):
// - trainer_corpus.txt: kiln's own docs (architecture, training, configuration, planner,
//   schedules as of the trainer's first version) followed by make_fixtures.py's hand-written
//   texts, paragraphs separated by blank lines.
// - trained_tokenizer.json: what BpeTrainer wrote from that corpus with kTrainedOptions, one
//   add_text() per paragraph. Regenerate after a deliberate change to the trainer with
//     KILN_REGENERATE_TOKENIZER_FIXTURES=1 build/tests/tokenizer_tests --gtest_filter='BpeTrainer.*'
//   and then `python3 make_fixtures.py --only trained`.
// - trained_hf.json: Hugging Face `tokenizers` 0.23.3 loading trained_tokenizer.json and encoding
//   the fixture texts and 40 corpus paragraphs (make_fixtures.py --only trained).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <thread>

#include "support/error_text.h"
#include "support/temp_dir.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace kiln {
namespace {

using testing::read_json;
using testing::show_ids;
using testing::slurp;
using testing::tokenizer_fixture;

const BpeTrainerOptions kTrainedOptions{1000, {"<|endoftext|>", "<|pad|>"}, 2};

std::vector<std::string> paragraphs(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find("\n\n", pos);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(pos, end + 2 > text.size() ? text.size() - pos : end + 2 - pos));
    pos = std::min(text.size(), end + 2);
  }
  return out;
}

std::string train(const std::vector<std::string>& texts, const BpeTrainerOptions& options = kTrainedOptions) {
  BpeTrainer trainer(options);
  for (const auto& t : texts) trainer.add_text(t);
  return trainer.to_json();
}

std::vector<std::string> corpus() { return paragraphs(slurp(tokenizer_fixture("trainer_corpus.txt"))); }

TEST(BpeTrainer, WritesTheCommittedTokenizer) {
  const std::string json = train(corpus());
  const auto path = tokenizer_fixture("trained_tokenizer.json");
  if (std::getenv("KILN_REGENERATE_TOKENIZER_FIXTURES")) {
    std::ofstream(path, std::ios::binary) << json;
    GTEST_SKIP() << "wrote " << path;
  }
  EXPECT_TRUE(json == slurp(path)) << "the trainer's output changed; if that is intended, see this file's header";
}

TEST(BpeTrainer, HuggingFaceEncodesTheTrainedTokenizerLikeKiln) {
  auto tok = Tokenizer::load(tokenizer_fixture("trained_tokenizer.json"));
  const auto fixture = read_json(tokenizer_fixture("trained_hf.json"));
  ASSERT_GT(fixture["cases"].size(), 150u);
  for (const auto& c : fixture["cases"]) {
    const std::string text = c["text"];
    const auto ids = tok->encode(text);
    EXPECT_EQ(ids, c["ids"].get<std::vector<int32_t>>()) << "text " << nlohmann::json(text).dump() << ": got " << show_ids(ids);
    EXPECT_EQ(tok->decode(ids), text);
  }
}

TEST(BpeTrainer, IsDeterministicWhateverTheOrderAndThreads) {
  auto texts = corpus();
  const std::string first = train(texts);
  std::mt19937 rng(7);
  std::shuffle(texts.begin(), texts.end(), rng);
  EXPECT_TRUE(first == train(texts)) << "order of add_text() changed the result";

  BpeTrainer trainer(kTrainedOptions);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      for (size_t i = t; i < texts.size(); i += 3) trainer.add_text(texts[i]);
    });
  for (auto& th : threads) th.join();
  EXPECT_TRUE(first == trainer.to_json()) << "add_text() from threads changed the result";
}

TEST(BpeTrainer, ReachesTheVocabularySizeWithSpecialTokensLast) {
  testing::TempDir dir;
  auto tok = Tokenizer::load(dir.write("t.json", train(corpus())));
  EXPECT_EQ(tok->vocab_size(), 1000);
  EXPECT_EQ(tok->token_id("<|endoftext|>"), 998);
  EXPECT_EQ(tok->token_id("<|pad|>"), 999);
  EXPECT_EQ(tok->eod_token(), 998);
  EXPECT_EQ(tok->encode("a<|pad|>b"), (std::vector<int32_t>{'a', 999, 'b'}));
  // Byte tokens are ids 0-255 in byte order.
  EXPECT_EQ(tok->encode("\n"), (std::vector<int32_t>{'\n'}));
}

TEST(BpeTrainer, RoundTripsAnyText) {
  testing::TempDir dir;
  auto tok = Tokenizer::load(dir.write("t.json", train(corpus())));
  for (const std::string text : {"", "unseen wörds ∑ 🙂 <|endoftext|> tail  ", "\t\r\n  x", "configuration planner schedule"}) {
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
  }
  // Words of the corpus compress: fewer tokens than bytes.
  const std::string common = "the configuration of the training run";
  EXPECT_LT(tok->encode(common).size(), common.size() / 2);
}

TEST(BpeTrainer, StopsWhenNoPairIsFrequentEnough) {
  testing::TempDir dir;
  const std::string json = train({"abab abab cdcd"}, BpeTrainerOptions{4096, {"<|endoftext|>"}, 2});
  auto tok = Tokenizer::load(dir.write("t.json", json));
  // (a,b) ×4 → 256; then (c,d) and (256,256) ×2 each, the tie going to the smaller left id:
  // (c,d) → 257, (256,256) → 258; every other pair occurs once.
  EXPECT_EQ(tok->vocab_size(), 260);
  EXPECT_EQ(tok->encode("abab"), (std::vector<int32_t>{258}));
  EXPECT_EQ(tok->encode(" cdcd"), (std::vector<int32_t>{' ', 257, 257}));
  EXPECT_EQ(tok->token_id("<|endoftext|>"), 259);
}

TEST(BpeTrainer, SpecialTokensInTheCorpusAreNotLearned) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 50; ++i) text += "doc<|endoftext|>";
  auto tok = Tokenizer::load(dir.write("t.json", train({text}, BpeTrainerOptions{300, {"<|endoftext|>"}, 2})));
  // "<|" and "|>" never occur outside the special token, so no merge was learned from them.
  EXPECT_EQ(tok->encode("<|").size(), 2u);
  EXPECT_EQ(tok->encode("doc").size(), 1u);
}

TEST(BpeTrainer, RejectsBadOptionsByName) {
  EXPECT_TRUE(testing::contains(testing::error_of([] { BpeTrainer t(BpeTrainerOptions{200, {}, 2}); }), "vocab_size"));
  EXPECT_TRUE(testing::contains(testing::error_of([] { BpeTrainer t(BpeTrainerOptions{256, {"<|endoftext|>"}, 2}); }),
                                "vocab_size"));
  EXPECT_TRUE(testing::contains(testing::error_of([] { BpeTrainer t(BpeTrainerOptions{300, {}, 0}); }), "min_frequency"));
  EXPECT_TRUE(testing::contains(testing::error_of([] { BpeTrainer t(BpeTrainerOptions{300, {"<a>", "<a>"}, 2}); }),
                                "special_tokens"));
  BpeTrainer t(BpeTrainerOptions{300, {}, 2});
  EXPECT_THROW(t.add_text("bad \xFF"), std::invalid_argument);
}

}  // namespace
}  // namespace kiln
