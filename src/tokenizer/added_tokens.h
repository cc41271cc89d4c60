// Tokens matched in the raw text before pre-tokenization: Hugging Face "added_tokens" and
// tiktoken's special tokens.
//
// Contract. find() gives the leftmost match at or after a position and, among the tokens that
// match there, the longest (Hugging Face's Aho-Corasick LeftmostLongest; tiktoken's alternation
// order is a hash map's, so for overlapping specials leftmost-longest is kiln's choice).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::tokenizer {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = true;  // skipped when encode() is called with allow_special = false
  bool lstrip = false;  // the match swallows the whitespace before it
  bool rstrip = false;  // ... and after it
};

class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  bool empty() const { return tokens_.empty(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  // The leftmost-longest match at or after `pos`: its start and the index of its token.
  bool find(std::string_view text, size_t pos, size_t& begin, size_t& index) const;

 private:
  std::vector<AddedToken> tokens_;
  std::array<std::vector<uint32_t>, 256> by_first_byte_;  // indices, longest content first
};

}  // namespace kiln::tokenizer
