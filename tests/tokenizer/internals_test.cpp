// The pieces under the tokenizers: UTF-8 checking, the byte-level alphabet, base64, and the
// split pattern engine's Unicode classes compared with the reference engines'.
//
// unicode_classes.json lists, as code point ranges, what \p{L}, \p{N} and \s match in Oniguruma
// (Hugging Face `tokenizers`) and in the `regex` crate (tiktoken); make_fixtures.py made it by
// running both over every code point. Here PCRE2, as kiln compiles it, runs over every code point
// too and must match the same set.
#include <gtest/gtest.h>

#include <set>

#include "tokenizer/base64.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/split_regex.h"
#include "tokenizer/utf8.h"
#include "tokenizer/fixtures.h"

namespace kiln::tokenizer {
namespace {

using kiln::testing::read_json;
using kiln::testing::tokenizer_fixture;

std::string every_code_point() {
  std::string text;
  for (char32_t c = 0; c < 0x110000; ++c)
    if (c < 0xD800 || c > 0xDFFF) append_utf8(text, c);
  return text;
}

std::set<char32_t> matched_by(const std::string& pattern, const std::string& text) {
  SplitRegex re(pattern, Anchors::kText);
  auto m = re.new_matcher();
  std::set<char32_t> out;
  re.split(*m, text, false, [&](size_t b, size_t e) {
    for (size_t i = b; i < e;) out.insert(next_code_point(text, i));
  });
  return out;
}

std::set<char32_t> from_ranges(const nlohmann::json& ranges) {
  std::set<char32_t> out;
  for (const auto& r : ranges)
    for (uint32_t c = r[0].get<uint32_t>(); c <= r[1].get<uint32_t>(); ++c) out.insert(c);
  return out;
}

std::string hex(char32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
  return buf;
}

std::string first_differences(const std::set<char32_t>& want, const std::set<char32_t>& got) {
  std::string s;
  int shown = 0;
  for (char32_t c : want)
    if (!got.count(c) && shown++ < 10) s += " missing " + hex(c);
  for (char32_t c : got)
    if (!want.count(c) && shown++ < 20) s += " extra " + hex(c);
  return s;
}

TEST(TokenizerUnicodeClasses, Pcre2MatchesOnigurumaAndRegexCrateOnEveryCodePoint) {
  const auto classes = read_json(tokenizer_fixture("unicode_classes.json"));
  const std::string text = every_code_point();
  for (const char* cls : {"\\p{L}", "\\p{N}", "\\s"}) {
    const auto got = matched_by(cls, text);
    for (const char* engine : {"oniguruma", "regex_crate"}) {
      const auto want = from_ranges(classes[engine][cls]);
      EXPECT_EQ(want.size(), got.size()) << cls << " vs " << engine << ":" << first_differences(want, got);
      EXPECT_TRUE(want == got) << cls << " vs " << engine << ":" << first_differences(want, got);
    }
  }
}

TEST(TokenizerUnicodeClasses, NegatedSpaceIsTheComplement) {
  const std::string text = every_code_point();
  const auto space = matched_by("\\s", text);
  const auto not_space = matched_by("\\S", text);
  EXPECT_EQ(space.size() + not_space.size(), 0x110000u - 0x800u);
  for (char32_t c : space) EXPECT_FALSE(not_space.count(c)) << static_cast<uint32_t>(c);
}

TEST(TokenizerSplitRegex, SpellsOutSpaceInsideAndOutsideClasses) {
  const std::string p = SplitRegex::spell_out_classes(R"(\s+(?!\S)|[^\s\p{L}]|\\s|[\]\s]|\Q\s\E)");
  EXPECT_EQ(p.find("\\s+"), std::string::npos) << p;
  EXPECT_NE(p.find("\\\\s"), std::string::npos) << p;  // an escaped backslash stays one
  EXPECT_NE(p.find("\\Q\\s\\E"), std::string::npos) << p;  // quoted text is not rewritten
  EXPECT_NE(p.find("[^\\t\\n"), std::string::npos) << p;
}

TEST(TokenizerSplitRegex, KeepsOrDropsGaps) {
  SplitRegex re("[0-9]+", Anchors::kText);
  auto m = re.new_matcher();
  std::vector<std::string> kept, dropped;
  const std::string text = "ab12cd345";
  re.split(*m, text, true, [&](size_t b, size_t e) { kept.push_back(text.substr(b, e - b)); });
  re.split(*m, text, false, [&](size_t b, size_t e) { dropped.push_back(text.substr(b, e - b)); });
  EXPECT_EQ(kept, (std::vector<std::string>{"ab", "12", "cd", "345"}));
  EXPECT_EQ(dropped, (std::vector<std::string>{"12", "345"}));
}

TEST(TokenizerSplitRegex, LongWhitespaceRunDoesNotExhaustTheJitStack) {
  SplitRegex re(std::string(kGpt2Pattern), Anchors::kLine);
  auto m = re.new_matcher();
  const std::string text = std::string(4 << 20, ' ') + "x";
  size_t pieces = 0;
  re.split(*m, text, true, [&](size_t, size_t) { ++pieces; });
  EXPECT_EQ(pieces, 2u);  // all the spaces but one, then " x"
}

TEST(TokenizerSplitRegex, BadPatternNamesTheOffset) {
  try {
    SplitRegex re("ab(c", Anchors::kText);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("offset"), std::string::npos) << e.what();
  }
}

TEST(TokenizerUtf8, FindsTheFirstBadByte) {
  EXPECT_EQ(find_invalid_utf8("plain ascii text, long enough for the fast path"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("h\xC3\xA9llo \xF0\x9F\x98\x80"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("abc\xFF"), 3u);
  EXPECT_EQ(find_invalid_utf8("abcdefghijk\x80"), 11u);          // stray continuation byte
  EXPECT_EQ(find_invalid_utf8("ab\xC0\xAF"), 2u);                // overlong '/'
  EXPECT_EQ(find_invalid_utf8("ab\xE0\x80\xAF"), 2u);            // overlong
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);             // surrogate U+D800
  EXPECT_EQ(find_invalid_utf8("x\xF4\x90\x80\x80"), 1u);         // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("x\xE6\x97"), 1u);                 // truncated
  EXPECT_EQ(find_invalid_utf8(std::string_view("a\0b", 3)), std::string_view::npos);  // NUL is valid
}

TEST(TokenizerByteLevel, IsABijectionWithGpt2sPrintableBytes) {
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const char32_t c = byte_to_char(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(c).second);
    EXPECT_EQ(char_to_byte(c), static_cast<uint8_t>(b));
  }
  EXPECT_EQ(byte_to_char(' '), U'\u0120');   // "Ġ"
  EXPECT_EQ(byte_to_char('\n'), U'\u010A');  // "Ċ"
  EXPECT_EQ(byte_to_char('A'), U'A');
  EXPECT_EQ(byte_level_encode(" the"), "\xC4\xA0the");
  EXPECT_EQ(byte_level_decode("\xC4\xA0the"), std::optional<std::string>(" the"));
  EXPECT_EQ(byte_level_decode("\xE2\x82\xAC"), std::nullopt);  // '€' is not in the alphabet
}

TEST(TokenizerBase64, RoundTripsAndRejectsNonCanonicalText) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(base64_decode(base64_encode(s)), std::optional<std::string>(s));
  EXPECT_EQ(base64_decode("IHRoZQ=="), std::optional<std::string>(" the"));
  EXPECT_EQ(base64_decode("IHRoZQ="), std::nullopt);   // length
  EXPECT_EQ(base64_decode("IHR*ZQ=="), std::nullopt);  // alphabet
  EXPECT_EQ(base64_decode("IHRoZR=="), std::nullopt);  // stray low bits
  EXPECT_EQ(base64_decode("IH=oZQ=="), std::nullopt);  // padding in the middle
}

}  // namespace
}  // namespace kiln::tokenizer
