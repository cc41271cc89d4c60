// tiktoken rank file → ByteBpeSpec. The file holds only "<base64 token> <rank>" lines; the split
// pattern and the special tokens come from TokenizerOptions. A token's rank is its id.
#include <charconv>

#include "tokenizer/base64.h"
#include "tokenizer/byte_bpe_tokenizer.h"
#include "tokenizer/loaders.h"

namespace kiln::tokenizer {
namespace {

std::string pattern_for(const std::string& name) {
  if (name == "cl100k" || name == "cl100k_base") return std::string(kCl100kPattern);
  if (name == "gpt2" || name == "r50k_base") return std::string(kGpt2Pattern);
  return name;
}

std::string shown(std::string_view s) {
  constexpr size_t kMax = 40;
  return "\"" + std::string(s.substr(0, kMax)) + (s.size() > kMax ? "...\"" : "\"");
}

[[noreturn]] void fail_in(const std::string& file, const std::string& what) { throw TokenizerError(file + ": " + what); }

}  // namespace

std::unique_ptr<Tokenizer> load_tiktoken(const std::string& file, std::string_view contents,
                                         const TokenizerOptions& options) {
  auto fail = [&](const std::string& what) { fail_in(file, what); };
  ByteBpeSpec spec;
  spec.kind = "tiktoken";
  spec.file = file;
  spec.keep_gaps = false;  // tiktoken encodes matches only
  spec.match_non_special_always = false;
  spec.model.whole_word_first = true;

  std::vector<size_t> line_of_rank;  // for the duplicate-rank message
  std::vector<std::pair<std::string, int32_t>> ranked;
  size_t line_no = 0;
  for (size_t pos = 0; pos < contents.size();) {
    size_t end = contents.find('\n', pos);
    if (end == std::string_view::npos) end = contents.size();
    std::string_view line = contents.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos)
      fail(where + "expected \"<base64 token> <rank>\", got " + shown(line));
    auto bytes = base64_decode(line.substr(0, space));
    if (!bytes || bytes->empty()) fail(where + "bad base64 " + shown(line.substr(0, space)));
    const std::string_view rank_text = line.substr(space + 1);
    int64_t rank = -1;
    auto [ptr, ec] = std::from_chars(rank_text.data(), rank_text.data() + rank_text.size(), rank);
    if (ec != std::errc() || ptr != rank_text.data() + rank_text.size() || rank < 0 || rank > INT32_MAX)
      fail(where + "bad rank " + shown(rank_text) + " (expected a non-negative 32-bit integer)");
    const auto id = static_cast<size_t>(rank);
    if (id >= spec.pieces.size()) {
      spec.pieces.resize(id + 1);
      spec.present.resize(id + 1, 0);
      line_of_rank.resize(id + 1, 0);
    }
    if (spec.present[id])
      fail(where + "rank " + std::to_string(rank) + " is used again (first on line " + std::to_string(line_of_rank[id]) + ")");
    if (!spec.model.tokens.insert(*bytes, static_cast<int32_t>(rank)))
      fail(where + "token " + shown(line.substr(0, space)) + " is listed twice (rank " +
           std::to_string(spec.model.tokens.find(*bytes)) + " and " + std::to_string(rank) + ")");
    spec.present[id] = 1;
    line_of_rank[id] = line_no;
    spec.pieces[id] = *bytes;
    spec.names.emplace(*bytes, static_cast<int32_t>(rank));
  }
  if (spec.model.tokens.size() == 0) fail("no \"<base64 token> <rank>\" lines (neither a tokenizer.json nor a tiktoken rank file)");
  for (int b = 0; b < 256; ++b) {
    const int32_t id = spec.model.tokens.find(std::string(1, static_cast<char>(b)));
    if (id < 0) fail("no token for the single byte " + std::to_string(b) + "; tiktoken needs all 256");
    spec.model.byte_ids[static_cast<size_t>(b)] = id;
  }
  // Every way of writing a token as two tokens is a pair whose rank is the token's: merging by
  // the lowest such rank is tiktoken's "merge the adjacent parts whose concatenation ranks lowest".
  spec.model.pairs.reserve(spec.model.tokens.size() * 4);
  for (size_t id = 0; id < spec.pieces.size(); ++id) {
    if (!spec.present[id]) continue;
    const std::string_view t = spec.pieces[id];
    for (size_t k = 1; k < t.size(); ++k) {
      const int32_t l = spec.model.tokens.find(t.substr(0, k));
      if (l < 0) continue;
      const int32_t r = spec.model.tokens.find(t.substr(k));
      if (r < 0) continue;
      spec.model.pairs.insert(l, r, MergeRule{static_cast<int32_t>(id), static_cast<int32_t>(id)});
    }
  }

  std::vector<AddedToken> specials;
  for (const auto& [content, id] : options.tiktoken_special_tokens) {
    if (content.empty()) fail("special token with id " + std::to_string(id) + " is empty");
    if (id < 0) fail("special token " + shown(content) + " has a negative id " + std::to_string(id));
    const auto i = static_cast<size_t>(id);
    if (i < spec.present.size() && spec.present[i])
      fail("special token " + shown(content) + " has id " + std::to_string(id) + ", which is already " +
           (spec.names.count(content) ? "taken" : "an ordinary token's rank"));
    if (i >= spec.pieces.size()) {
      spec.pieces.resize(i + 1);
      spec.present.resize(i + 1, 0);
    }
    spec.pieces[i] = content;
    spec.present[i] = 1;
    spec.names[content] = id;
    specials.push_back(AddedToken{content, id, true, false, false});
  }
  if (!specials.empty()) spec.added_phases.emplace_back(std::move(specials));

  try {
    spec.splits.push_back(std::make_unique<SplitRegex>(pattern_for(options.tiktoken_pattern), Anchors::kText));
  } catch (const std::invalid_argument& e) {
    fail(std::string("TokenizerOptions::tiktoken_pattern: ") + e.what());
  }
  return std::make_unique<ByteBpeTokenizer>(std::move(spec));
}

}  // namespace kiln::tokenizer
