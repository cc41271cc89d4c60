// The pre-tokenizer's split pattern, compiled once with PCRE2 (UTF, Unicode properties, JIT).
//
// Contract. A SplitRegex is immutable and shared by every thread; each thread matches with its own
// SplitRegex::Matcher (PCRE2 match data and JIT stack), so matching allocates nothing. Texts must
// be valid UTF-8 (the tokenizer checks once per encode() call; the UTF check is skipped here).
//
// Classes are rewritten before compiling so that PCRE2 agrees with the reference engines,
// Oniguruma (Hugging Face) and the `regex` crate (tiktoken), on every code point: \s and \S become
// the Unicode White_Space set (PCRE2 with UCP also counts U+180E MONGOLIAN VOWEL SEPARATOR as
// space), and \p{L} and \p{N} gain the letters and numbers of Unicode 15–16 (PCRE2 10.42 knows
// Unicode 14). \P{..}, \pL and named variants are left as PCRE2 reads them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace kiln::tokenizer {

// Where `$` and `^` may match: Hugging Face compiles with Oniguruma's Ruby syntax (line anchors),
// tiktoken with the `regex` crate (text anchors).
enum class Anchors { kLine, kText };

class SplitRegex {
 public:
  class Matcher;
  // Matcher is opaque (it holds PCRE2 types); its deleter lives in split_regex.cpp.
  struct MatcherDeleter {
    void operator()(Matcher* m) const;
  };
  using MatcherPtr = std::unique_ptr<Matcher, MatcherDeleter>;

  // Throws std::invalid_argument with PCRE2's message and the offset in `pattern`.
  SplitRegex(std::string pattern, Anchors anchors);
  ~SplitRegex();
  SplitRegex(const SplitRegex&) = delete;
  SplitRegex& operator=(const SplitRegex&) = delete;

  const std::string& pattern() const { return pattern_; }
  MatcherPtr new_matcher() const;

  // The first match at or after `start`: true and [begin, end), or false when there is none.
  bool find(Matcher& m, std::string_view text, size_t start, size_t& begin, size_t& end) const;

  // Calls piece(begin, end) for every match in order and, when keep_gaps, for every non-empty
  // stretch between matches too (Hugging Face's "Isolated" split keeps them; tiktoken drops them).
  template <class F>
  void split(Matcher& m, std::string_view text, bool keep_gaps, F&& piece) const {
    size_t pos = 0;
    size_t b = 0, e = 0;
    while (pos < text.size() && find(m, text, pos, b, e)) {
      if (keep_gaps && b > pos) piece(pos, b);
      if (e == b) {  // an empty match: step over one character, as the reference engines do
        if (keep_gaps) {
          size_t next = b + 1;
          while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
          piece(b, next);
          pos = next;
        } else {
          pos = b + 1;
          while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
        }
        continue;
      }
      piece(b, e);
      pos = e;
    }
    if (keep_gaps && pos < text.size()) piece(pos, text.size());
  }

  // The pattern as compiled, classes spelled out (exposed for tests).
  static std::string spell_out_classes(std::string_view pattern);

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*; kept opaque so that users do not include pcre2.h
  bool jit_ = false;
};

// The preset patterns, by the names TokenizerOptions::tiktoken_pattern takes.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kCl100kPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

}  // namespace kiln::tokenizer
