// The one Tokenizer implementation behind both file formats: added/special tokens are cut out of
// the text, the rest is split by the pre-tokenizer's patterns, and each piece goes through the
// byte-level BPE model. The loaders (hf_json_loader.cpp, tiktoken_loader.cpp) only fill a
// ByteBpeSpec; what differs between the formats is spelled out as its fields.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/split_regex.h"
#include "tokenizer/tokenizer.h"

namespace kiln::tokenizer {

struct ByteBpeSpec {
  std::string kind;  // "tokenizer.json" or "tiktoken", for describe()
  std::string file;
  BpeModel model;
  // Applied in order, each to every piece the previous one produced.
  std::vector<std::unique_ptr<SplitRegex>> splits;
  bool keep_gaps = true;  // Hugging Face keeps the text between matches as pieces; tiktoken drops it
  // Hugging Face ByteLevel(add_prefix_space): a space is put before every piece that reaches
  // split level `prefix_space_level` (== splits.size(): the final pieces) unless it has one.
  bool add_prefix_space = false;
  size_t prefix_space_level = 0;
  // Matched in turn: each phase looks only at the text the earlier phases left (Hugging Face
  // matches its non-normalized added tokens first, then the normalized ones).
  std::vector<AddedTokenMatcher> added_phases;
  // false (tiktoken): allow_special = false turns all added-token matching off (encode_ordinary).
  // true (Hugging Face encode_special_tokens): only tokens marked special are passed over.
  bool match_non_special_always = true;
  // id → bytes; ids that are not tokens have present[id] == 0.
  std::vector<std::string> pieces;
  std::vector<uint8_t> present;
  // token_id(): the vocabulary as written in the file, added tokens included.
  std::unordered_map<std::string, int32_t> names;
};

class ByteBpeTokenizer final : public Tokenizer {
 public:
  explicit ByteBpeTokenizer(ByteBpeSpec spec);
  ~ByteBpeTokenizer() override;

  using Tokenizer::encode;
  void encode(std::string_view text, std::vector<int32_t>& out, bool allow_special = true) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(spec_.pieces.size()); }
  std::optional<int32_t> token_id(std::string_view token) const override;
  std::string describe() const override;

 private:
  struct ThreadState;
  ThreadState& state() const;
  void encode_phase(std::string_view text, size_t phase, bool allow_special, ThreadState& ts,
                    std::vector<int32_t>& out) const;
  void encode_split(std::string_view text, size_t level, ThreadState& ts, std::vector<int32_t>& out) const;
  void encode_word(std::string_view word, ThreadState& ts, std::vector<int32_t>& out) const;

  ByteBpeSpec spec_;
  uint64_t serial_;  // identifies this tokenizer's per-thread state (addresses get reused)
};

}  // namespace kiln::tokenizer
