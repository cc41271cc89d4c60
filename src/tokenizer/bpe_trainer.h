// Byte-level BPE training, so a corpus can get its own tokenizer with no download.
//
// Contract. Texts are pre-tokenized with the split pattern (the GPT-2 regex by default) and
// counted as words of bytes; merges are learned greedily, most frequent adjacent pair first, until
// the vocabulary (256 byte tokens + merges + special tokens) reaches vocab_size or no pair occurs
// min_frequency times. The result is deterministic for the same texts in any order of add_text()
// calls (ties between equally frequent pairs are broken by the pair's token ids, documented in the
// implementation). to_json() writes a Hugging Face tokenizer.json (BPE model, ByteLevel
// pre-tokenizer and decoder, special tokens as added tokens after the ordinary ones) that both
// kiln's Tokenizer::load and Hugging Face `tokenizers` load and encode identically.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

struct BpeTrainerOptions {
  int64_t vocab_size = 4096;  // ≥ 256 + special tokens
  std::vector<std::string> special_tokens = {"<|endoftext|>"};
  int64_t min_frequency = 2;  // a pair seen fewer times is never merged
};

class BpeTrainer {
 public:
  // Throws std::invalid_argument naming the option that is out of range.
  explicit BpeTrainer(BpeTrainerOptions options);
  ~BpeTrainer();
  BpeTrainer(const BpeTrainer&) = delete;
  BpeTrainer& operator=(const BpeTrainer&) = delete;

  // Counts the words of one text. Safe to call from several threads at once.
  void add_text(std::string_view text);
  // Learns the merges and returns the tokenizer.json contents. Call once, after every add_text().
  std::string to_json();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
