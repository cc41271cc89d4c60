#include "tokenizer/added_tokens.h"

#include <algorithm>

namespace kiln::tokenizer {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (uint32_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;  // an empty token would match everywhere
    by_first_byte_[static_cast<uint8_t>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& bucket : by_first_byte_)
    std::stable_sort(bucket.begin(), bucket.end(),
                     [&](uint32_t a, uint32_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
}

bool AddedTokenMatcher::find(std::string_view text, size_t pos, size_t& begin, size_t& index) const {
  for (size_t i = pos; i < text.size(); ++i) {
    const auto& bucket = by_first_byte_[static_cast<uint8_t>(text[i])];
    for (uint32_t t : bucket) {
      if (text.substr(i).starts_with(tokens_[t].content)) {
        begin = i;
        index = t;
        return true;
      }
    }
  }
  return false;
}

}  // namespace kiln::tokenizer
