// Byte-level BPE tokenizers: Hugging Face tokenizer.json (the GPT-2 / GPT-NeoX family) and
// tiktoken rank files (Stable LM 2's Arcade100k, cl100k-style).
//
// Contract.
// - encode() gives exactly the ids the reference library gives (Hugging Face `tokenizers` for
//   tokenizer.json, `tiktoken` for rank files) for any valid UTF-8 text: special tokens found in
//   the text are emitted as their ids when allow_special is true (HF `encode(add_special_tokens=
//   False)` semantics: no BOS/EOS is added by a post-processor), and are encoded as ordinary text
//   when it is false. Invalid UTF-8 is rejected with std::invalid_argument naming the byte offset.
// - decode(encode(text)) == text for every valid UTF-8 text.
// - A loaded tokenizer is immutable; encode() and decode() are const and safe to call from many
//   threads at once (per-thread caches are the implementation's business).
// - Loading checks the file and throws TokenizerError naming the file and what is wrong (an
//   unsupported model type, normalizer or pre-tokenizer is refused by name, never ignored).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

struct TokenizerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TokenizerOptions {
  // tiktoken rank files carry neither the split pattern nor the special tokens. The pattern is a
  // preset name ("cl100k", "gpt2") or a regular expression; special tokens are (text, id) pairs.
  // Ignored for tokenizer.json, which carries both.
  std::string tiktoken_pattern = "cl100k";
  std::vector<std::pair<std::string, int32_t>> tiktoken_special_tokens;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads `path`: a Hugging Face tokenizer.json (by content: a JSON object with a "model") or a
  // tiktoken rank file (lines "<base64 token> <rank>").
  static std::unique_ptr<Tokenizer> load(const std::filesystem::path& path, const TokenizerOptions& options = {});

  // Appends the ids of `text` to `out`.
  virtual void encode(std::string_view text, std::vector<int32_t>& out, bool allow_special = true) const = 0;
  std::vector<int32_t> encode(std::string_view text, bool allow_special = true) const {
    std::vector<int32_t> ids;
    encode(text, ids, allow_special);
    return ids;
  }

  // The text of `ids`. Throws std::out_of_range naming the first id that is not in the vocabulary.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;

  // 1 + the largest id (ordinary or special).
  virtual int64_t vocab_size() const = 0;
  // The id of a token given as its text (a special token such as "<|endoftext|>", or an
  // ordinary token as it is written in the vocabulary); nullopt when there is none.
  virtual std::optional<int32_t> token_id(std::string_view token) const = 0;
  // The end-of-document token: "<|endoftext|>" when the tokenizer has it, else nullopt.
  std::optional<int32_t> eod_token() const { return token_id("<|endoftext|>"); }

  // One line for logs: kind, file, vocabulary size.
  virtual std::string describe() const = 0;
};

}  // namespace kiln
