// The data pipeline end to end: text → GPT-2 tokenizer → mmap shard → loader, interrupted and
// resumed (also at another data-parallel size) with exactly the uninterrupted sample sequence.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/formats/document_store.h"
#include "data/prefetcher.h"
#include "data/shard_streams.h"
#include "support/temp_dir.h"
#include "tokenizer/tokenizer.h"

namespace kiln {
namespace {

constexpr int kSeq = 32;

// A few hundred small documents of English-like text with numbers, in two files.
std::vector<std::string> corpus(int documents, int salt) {
  const char* words[] = {"the", "kiln", "fires", "clay", "at", "high", "heat", "and", "every", "pot",
                         "comes", "out", "harder", "than", "before", "while", "glaze", "melts", "into", "glass"};
  std::vector<std::string> docs;
  uint64_t s = 88172645463325252ull + static_cast<uint64_t>(salt);
  auto next = [&] { return s ^= s << 13, s ^= s >> 7, s ^= s << 17; };
  for (int d = 0; d < documents; ++d) {
    std::string text = "Document " + std::to_string(d) + ":";
    const int n = 5 + static_cast<int>(next() % 60);
    for (int w = 0; w < n; ++w) {
      text += ' ';
      text += words[next() % 20];
      if (next() % 9 == 0) text += " " + std::to_string(next() % 1000) + ".";
    }
    docs.push_back(text + "\n");
  }
  return docs;
}

std::string tokenize(const Tokenizer& tok, const std::vector<std::string>& docs, const std::filesystem::path& prefix) {
  auto writer = create_document_writer(prefix, ShardFormat::mmap, tok.vocab_size());
  for (const auto& text : docs) {
    std::vector<int32_t> ids = tok.encode(text);
    ids.push_back(*tok.eod_token());
    writer->add(ids);
  }
  writer->finish();
  return prefix.string();
}

// Every token of `steps` steps from `first_step`, read through the prefetcher by each of
// dp_size ranks and concatenated per step in rank order.
std::vector<int32_t> read_steps(const DataSource& source, int64_t dp_size, int64_t first_step, int64_t steps) {
  const int64_t micro = 4 / dp_size;  // global batch 8 = micro × 2 accumulation × dp
  std::vector<std::vector<int32_t>> per_rank(static_cast<size_t>(dp_size));
  std::vector<int32_t> out;
  std::vector<std::unique_ptr<Prefetcher>> ranks;
  for (int64_t r = 0; r < dp_size; ++r)
    ranks.push_back(std::make_unique<Prefetcher>(source, StepSlicing{micro, 2, dp_size, r}, kSeq, first_step));
  for (int64_t step = 0; step < steps; ++step)
    for (auto& rank : ranks)
      for (const BatchStorage& mb : rank->next()) out.insert(out.end(), mb.tokens.begin(), mb.tokens.end());
  return out;
}

TEST(DataPipeline, TokenizedCorpusResumesWithTheIdenticalSampleSequence) {
  testing::TempDir dir;
  const auto tok = Tokenizer::load(std::string(KILN_SHARED_DIR) + "/reference/tokenizers/gpt2-tokenizer.json");
  DataConfig data;
  data.format = DataFormat::mmap;
  data.train_paths = {tokenize(*tok, corpus(300, 1), dir.path() / "web"),
                      tokenize(*tok, corpus(120, 2), dir.path() / "books")};
  data.train_weights = {0.6, 0.4};
  data.seed = 5;
  data.split = {0.9, 0.1, 0};
  data.reset_attention_mask = data.reset_position_ids = true;
  const int64_t vocab = tok->vocab_size();

  const int64_t total = 60, cut = 23;  // the second file runs out several times within 60 steps
  ShardStreams uninterrupted = open_shard_streams(data, vocab, kSeq);
  const std::vector<int32_t> reference = read_steps(*uninterrupted.train, 1, 0, total);
  EXPECT_GT(uninterrupted.train->epochs_at(total * 8)[1], 1.0) << "epoch rollover is part of the check";

  // "Interrupted" after `cut` steps: all a checkpoint keeps of the loader is this state.
  const DataState saved = uninterrupted.train->state_at(static_cast<uint64_t>(cut) * 8);
  for (int64_t dp : {1, 2, 4}) {
    ShardStreams resumed = open_shard_streams(data, vocab, kSeq);  // a new process opening the same files
    resumed.train->restore(saved);
    const std::vector<int32_t> tail = read_steps(*resumed.train, dp, cut, total - cut);
    const std::vector<int32_t> expected(reference.begin() + cut * 8 * kSeq, reference.end());
    EXPECT_EQ(tail, expected) << "resumed at step " << cut << " with " << dp << " data-parallel ranks";
  }
}

}  // namespace
}  // namespace kiln
