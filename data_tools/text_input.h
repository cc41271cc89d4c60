// Documents from JSONL and plain-text files, read in streaming fashion, with a policy for
// malformed input.
//
// Contract.
// - Files are read in the order given, each front to back; documents come out in that order.
//   Nothing depends on timing or threads, so the same files give the same documents every time.
// - JSONL: one JSON object per line; the document is the string under `text_key`. Lines that are
//   empty or only whitespace are ignored. A line is bad when it is not valid UTF-8, not valid
//   JSON, not an object, lacks the key, or holds a non-string there.
// - Text: the whole file is one document (TextSplit::file), or each paragraph (lines up to a
//   blank line, joined with "\n"), or each non-blank line. A document that is not valid UTF-8 is
//   bad. Empty documents are never produced.
// - A bad line (or bad text document) under BadLinePolicy::stop throws InputError
//   "FILE:LINE: what is wrong"; under skip it is counted, the first few are kept for the final
//   report, and reading goes on.
// - Memory: one line (or, for TextSplit::file, one file) plus a 1 MiB read buffer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::data_tools {

// A problem with the user's input: a malformed line, a missing file, an unknown option value.
// The command exits with status 2 for these (1 is for failures of the tool itself).
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class InputFormat { auto_detect, jsonl, text };
enum class TextSplit { file, blank_line, line };
enum class BadLinePolicy { skip, stop };

// "auto"/"jsonl"/"text", "file"/"blank-line"/"line", "skip"/"stop"; InputError otherwise.
InputFormat parse_input_format(std::string_view name);
TextSplit parse_text_split(std::string_view name);
BadLinePolicy parse_bad_line_policy(std::string_view name);

// JSONL for .jsonl, .ndjson and .json; text for .txt, .text and .md; otherwise JSONL when the
// first non-blank byte of the file is '{', text when it is anything else.
InputFormat detect_input_format(const std::filesystem::path& path);

struct TextInputOptions {
  InputFormat format = InputFormat::auto_detect;
  std::string text_key = "text";
  TextSplit split = TextSplit::file;
  BadLinePolicy on_bad_line = BadLinePolicy::stop;
  size_t max_reported = 5;  // bad lines kept, with their reasons, for the report
};

struct BadLine {
  std::string file;
  uint64_t line = 0;
  std::string reason;
  std::string text() const;  // "FILE:LINE: reason"
};

struct BadLineReport {
  uint64_t count = 0;
  std::vector<BadLine> first;  // at most max_reported, in input order
  // "" when count is 0; else "skipped N bad lines" and the positions kept, one per line.
  std::string summary() const;
};

struct InputDocument {
  std::string text;
  std::string file;   // as given on the command line
  uint64_t line = 0;  // 1-based first line of the document
  std::string origin() const { return file + ":" + std::to_string(line); }
};

namespace detail {
class InputFileReader;
}

class TextInput {
 public:
  // Checks that every file exists and is readable (InputError naming the first that is not) and
  // sums their sizes for total_bytes(); reading starts with the first next().
  TextInput(std::vector<std::filesystem::path> files, TextInputOptions options);
  ~TextInput();
  TextInput(const TextInput&) = delete;
  TextInput& operator=(const TextInput&) = delete;

  // The next document; false when every file is done.
  bool next(InputDocument& doc);

  uint64_t total_bytes() const { return total_bytes_; }
  uint64_t bytes_consumed() const;  // of all files, up to the end of the last document returned
  uint64_t documents() const { return documents_; }
  const BadLineReport& bad_lines() const { return bad_; }

 private:
  bool open_next_file();
  void reject(BadLine bad);

  std::vector<std::filesystem::path> files_;
  TextInputOptions options_;
  size_t next_file_ = 0;
  std::unique_ptr<detail::InputFileReader> reader_;
  uint64_t total_bytes_ = 0;
  uint64_t finished_bytes_ = 0;  // sizes of the files already read to the end
  uint64_t documents_ = 0;
  BadLineReport bad_;
};

}  // namespace kiln::data_tools
