// The JSONL and text readers: documents and their positions, each kind of malformed line, and
// the skip/stop policy.
#include <gtest/gtest.h>

#include "line_reader.h"
#include "support/error_text.h"
#include "support/temp_dir.h"
#include "text_input.h"
#include "tokenizer/utf8.h"

namespace kiln::data_tools {
namespace {

using kiln::testing::contains;
using kiln::testing::error_of;
using kiln::testing::TempDir;

std::vector<InputDocument> read_all(TextInput& input) {
  std::vector<InputDocument> docs;
  InputDocument d;
  while (input.next(d)) docs.push_back(d);
  return docs;
}

std::vector<InputDocument> read_all(const std::vector<std::filesystem::path>& files, TextInputOptions options = {}) {
  TextInput input(files, options);
  return read_all(input);
}

TEST(Utf8, FindsTheFirstInvalidByte) {
  EXPECT_EQ(tokenizer::find_invalid_utf8("plain ascii, long enough to take the fast path"), std::string_view::npos);
  EXPECT_EQ(tokenizer::find_invalid_utf8("Zoë, Αθήνα, 東京, 😀"), std::string_view::npos);
  EXPECT_EQ(tokenizer::find_invalid_utf8("abc\xff"), 3u);
  EXPECT_EQ(tokenizer::find_invalid_utf8("abcdefghij\x80"), 10u);       // a continuation byte with no lead
  EXPECT_EQ(tokenizer::find_invalid_utf8("ab\xc0\xaf"), 2u);             // overlong '/'
  EXPECT_EQ(tokenizer::find_invalid_utf8("ab\xed\xa0\x80"), 2u);         // a surrogate
  EXPECT_EQ(tokenizer::find_invalid_utf8("ab\xf4\x90\x80\x80"), 2u);     // above U+10FFFF
  EXPECT_EQ(tokenizer::find_invalid_utf8("ab\xe6\x9d"), 2u);             // cut short at the end
}

TEST(LineReader, SplitsLinesAcrossChunksAndStripsCr) {
  TempDir dir;
  const std::string long_line(5000, 'x');
  auto f = dir.write("a.txt", "one\r\ntwo\n\n" + long_line + "\nlast");
  LineReader r(f, 7);  // chunks far smaller than the lines
  std::string_view line;
  std::vector<std::string> lines;
  while (r.next(line)) lines.emplace_back(line);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "", long_line, "last"}));
  EXPECT_EQ(r.line_number(), 5u);
  EXPECT_EQ(r.offset(), std::filesystem::file_size(f));
}

TEST(TextInput, ReadsJsonlDocumentsWithTheirLines) {
  TempDir dir;
  auto f = dir.write("a.jsonl",
                     "{\"text\": \"first\", \"id\": 1}\n"
                     "\n"
                     "   \n"
                     "{\"id\": 2, \"text\": \"sécond \\u00e9 \\n line\"}\r\n"
                     "{\"text\": \"\"}\n"  // empty text: nothing to tokenize, not an error
                     "{\"text\": \"last, no newline\"}");
  TextInput input({f}, {});
  auto docs = read_all(input);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].text, "first");
  EXPECT_EQ(docs[0].line, 1u);
  EXPECT_EQ(docs[1].text, "sécond é \n line");
  EXPECT_EQ(docs[1].line, 4u);
  EXPECT_EQ(docs[1].origin(), f.string() + ":4");
  EXPECT_EQ(docs[2].line, 6u);
  EXPECT_EQ(input.bad_lines().count, 0u);
  EXPECT_EQ(input.bytes_consumed(), input.total_bytes());
}

TEST(TextInput, OtherTextKey) {
  TempDir dir;
  auto f = dir.write("a.jsonl", "{\"content\": \"x\", \"text\": 3}\n");
  auto docs = read_all({f}, {.text_key = "content"});
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].text, "x");
}

// Each malformed class stops reading with "FILE:LINE: what".
TEST(TextInput, StopNamesFileLineAndProblem) {
  TempDir dir;
  const std::string good = "{\"text\": \"ok\"}\n";
  struct Case {
    std::string line, expected;
  };
  const std::vector<Case> cases = {
      {"{\"text\": \"unterminated}", "invalid JSON: column"},
      {"{\"text\": \"a\"} trailing", "invalid JSON"},
      {"[1, 2]", "expected a JSON object, found array"},
      {"{\"body\": \"x\"}", "no key 'text'"},
      {"{\"text\": 42}", "'text' is number, expected a string"},
      {"{\"text\": null}", "'text' is null, expected a string"},
      {"{\"text\": \"caf\xe9\"}", "invalid UTF-8 at byte 13 of the line"},
  };
  for (const auto& c : cases) {
    auto f = dir.write("bad.jsonl", good + good + c.line + "\n" + good);
    const std::string err = error_of([&] { read_all({f}); });
    EXPECT_TRUE(contains(err, f.string() + ":3: " + c.expected)) << c.line;
  }
}

TEST(TextInput, StopThrowsInputError) {
  TempDir dir;
  auto f = dir.write("bad.jsonl", "nope\n");
  EXPECT_THROW(read_all({f}), InputError);
}

TEST(TextInput, SkipCountsAndKeepsTheFirstPositions) {
  TempDir dir;
  std::string text;
  for (int i = 1; i <= 20; ++i) text += i % 3 == 0 ? "{bad\n" : "{\"text\": \"doc " + std::to_string(i) + "\"}\n";
  auto a = dir.write("a.jsonl", text);
  auto b = dir.write("b.jsonl", "{\"text\": 1}\n{\"text\": \"fine\"}\n");
  TextInput input({a, b}, {.on_bad_line = BadLinePolicy::skip, .max_reported = 3});
  auto docs = read_all(input);
  EXPECT_EQ(docs.size(), 20u - 6u + 1u);
  EXPECT_EQ(input.documents(), docs.size());
  const auto& bad = input.bad_lines();
  EXPECT_EQ(bad.count, 7u);  // lines 3, 6, …, 18 of a, line 1 of b
  ASSERT_EQ(bad.first.size(), 3u);
  EXPECT_EQ(bad.first[0].line, 3u);
  EXPECT_EQ(bad.first[1].line, 6u);
  EXPECT_EQ(bad.first[2].line, 9u);
  EXPECT_EQ(bad.first[0].file, a.string());
  const std::string summary = bad.summary();
  EXPECT_TRUE(contains(summary, "skipped 7 bad lines; the first 3:"));
  EXPECT_TRUE(contains(summary, a.string() + ":3: invalid JSON"));
  EXPECT_EQ(docs.back().file, b.string());
  EXPECT_EQ(docs.back().line, 2u);
}

TEST(TextInput, TextSplits) {
  TempDir dir;
  auto f = dir.write("a.txt", "Para one\nstill one\n\n\n  \nPara two\r\n\nthree\n");
  {
    auto docs = read_all({f}, {.split = TextSplit::file});
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(docs[0].text, "Para one\nstill one\n\n\n  \nPara two\r\n\nthree\n");  // byte for byte
  }
  {
    auto docs = read_all({f}, {.split = TextSplit::blank_line});
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(docs[0].text, "Para one\nstill one");
    EXPECT_EQ(docs[1].text, "Para two");
    EXPECT_EQ(docs[1].line, 6u);
    EXPECT_EQ(docs[2].text, "three");
    EXPECT_EQ(docs[2].line, 8u);
  }
  {
    auto docs = read_all({f}, {.split = TextSplit::line});
    ASSERT_EQ(docs.size(), 4u);
    EXPECT_EQ(docs[1].text, "still one");
    EXPECT_EQ(docs[1].line, 2u);
  }
}

TEST(TextInput, InvalidUtf8InTextNamesTheLine) {
  TempDir dir;
  auto f = dir.write("a.txt", "fine\nalso fine\nbad \xff here\n");
  EXPECT_TRUE(contains(error_of([&] { read_all({f}, {.split = TextSplit::file}); }),
                       f.string() + ":3: invalid UTF-8 at byte 4 of the line"));
  EXPECT_TRUE(contains(error_of([&] { read_all({f}, {.split = TextSplit::blank_line}); }), f.string() + ":3:"));
  TextInput input({f}, {.split = TextSplit::line, .on_bad_line = BadLinePolicy::skip});
  EXPECT_EQ(read_all(input).size(), 2u);
  EXPECT_EQ(input.bad_lines().count, 1u);
}

TEST(TextInput, DetectsFormats) {
  TempDir dir;
  EXPECT_EQ(detect_input_format(dir.write("a.jsonl", "x")), InputFormat::jsonl);
  EXPECT_EQ(detect_input_format(dir.write("a.txt", "{\"text\": 1}")), InputFormat::text);
  EXPECT_EQ(detect_input_format(dir.write("data", "\n  {\"text\": \"x\"}\n")), InputFormat::jsonl);
  EXPECT_EQ(detect_input_format(dir.write("notes", "Dear diary")), InputFormat::text);
  // Mixed inputs in one run, each read by its own format.
  auto docs = read_all({dir.path() / "data", dir.path() / "notes"});
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].text, "x");
  EXPECT_EQ(docs[1].text, "Dear diary");
}

TEST(TextInput, MissingFileAndBadOptionValues) {
  EXPECT_TRUE(contains(error_of([] { TextInput({"/nonexistent/x.jsonl"}, {}); }), "/nonexistent/x.jsonl: no such file"));
  EXPECT_THROW(parse_bad_line_policy("ignore"), InputError);
  EXPECT_THROW(parse_text_split("para"), InputError);
  EXPECT_EQ(parse_text_split("blank-line"), TextSplit::blank_line);
}

}  // namespace
}  // namespace kiln::data_tools
