#include "text_input.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "line_reader.h"
#include "tokenizer/utf8.h"

namespace kiln::data_tools {

namespace fs = std::filesystem;

InputFormat parse_input_format(std::string_view name) {
  if (name == "auto") return InputFormat::auto_detect;
  if (name == "jsonl") return InputFormat::jsonl;
  if (name == "text") return InputFormat::text;
  throw InputError("unknown input format '" + std::string(name) + "'; expected auto, jsonl or text");
}

TextSplit parse_text_split(std::string_view name) {
  if (name == "file") return TextSplit::file;
  if (name == "blank-line") return TextSplit::blank_line;
  if (name == "line") return TextSplit::line;
  throw InputError("unknown text split '" + std::string(name) + "'; expected file, blank-line or line");
}

BadLinePolicy parse_bad_line_policy(std::string_view name) {
  if (name == "skip") return BadLinePolicy::skip;
  if (name == "stop") return BadLinePolicy::stop;
  throw InputError("unknown bad-line policy '" + std::string(name) + "'; expected skip or stop");
}

InputFormat detect_input_format(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return InputFormat::jsonl;
  if (ext == ".txt" || ext == ".text" || ext == ".md") return InputFormat::text;
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c))
    if (!std::isspace(static_cast<unsigned char>(c))) return c == '{' ? InputFormat::jsonl : InputFormat::text;
  return InputFormat::text;
}

std::string BadLine::text() const { return file + ":" + std::to_string(line) + ": " + reason; }

std::string BadLineReport::summary() const {
  if (count == 0) return "";
  std::string s = "skipped " + std::to_string(count) + " bad line" + (count == 1 ? "" : "s");
  if (!first.empty()) s += count > first.size() ? "; the first " + std::to_string(first.size()) + ":" : ":";
  for (const auto& b : first) s += "\n  " + b.text();
  return s;
}

namespace {

// JSON parse errors read "[json.exception.parse_error.101] parse error at line 1, column 7: …";
// the line is always 1 here and the file:line is already in front, so keep "column 7: …".
std::string json_error_reason(const std::exception& e) {
  std::string what = e.what();
  if (auto p = what.find("column "); p != std::string::npos) what = what.substr(p);
  if (what.size() > 160) what = what.substr(0, 157) + "...";
  return "invalid JSON: " + what;
}

std::string invalid_utf8_reason(size_t offset) {
  return "invalid UTF-8 at byte " + std::to_string(offset) + " of the line";
}

}  // namespace

namespace detail {

// One open file of the input. next() yields the file's next document, or a bad line (which the
// owner counts or throws, by policy), or the end of the file.
class InputFileReader {
 public:
  enum class Result { document, bad, end };
  explicit InputFileReader(const fs::path& path) : name_(path.string()) {}
  virtual ~InputFileReader() = default;
  virtual Result next(InputDocument& doc, BadLine& bad) = 0;
  virtual uint64_t offset() const = 0;

 protected:
  Result bad_line(BadLine& bad, uint64_t line, std::string reason) const {
    bad = {name_, line, std::move(reason)};
    return Result::bad;
  }
  // A bad byte at `offset` of a document that starts on `first_line`: reported on its own line,
  // with the offset counted from that line's start.
  Result bad_utf8(BadLine& bad, std::string_view text, size_t offset, uint64_t first_line) const {
    const std::string_view before = text.substr(0, offset);
    const size_t nl = before.rfind('\n');
    const auto newlines = static_cast<uint64_t>(std::count(before.begin(), before.end(), '\n'));
    return bad_line(bad, first_line + newlines,
                    invalid_utf8_reason(nl == std::string_view::npos ? offset : offset - nl - 1));
  }
  Result document(InputDocument& doc, uint64_t line) const {
    doc.file = name_;
    doc.line = line;
    return Result::document;
  }

  std::string name_;
};

}  // namespace detail

namespace {

using detail::InputFileReader;
using Result = InputFileReader::Result;

class JsonlReader final : public InputFileReader {
 public:
  JsonlReader(const fs::path& path, std::string key) : InputFileReader(path), lines_(path), key_(std::move(key)) {}

  Result next(InputDocument& doc, BadLine& bad) override {
    std::string_view line;
    while (lines_.next(line)) {
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      const uint64_t n = lines_.line_number();
      if (const size_t off = tokenizer::find_invalid_utf8(line); off != std::string_view::npos)
        return bad_line(bad, n, invalid_utf8_reason(off));
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error& e) {
        return bad_line(bad, n, json_error_reason(e));
      }
      if (!j.is_object()) return bad_line(bad, n, std::string("expected a JSON object, found ") + j.type_name());
      auto it = j.find(key_);
      if (it == j.end()) return bad_line(bad, n, "no key '" + key_ + "'");
      if (!it->is_string())
        return bad_line(bad, n, "'" + key_ + "' is " + it->type_name() + ", expected a string");
      doc.text = std::move(it->get_ref<std::string&>());
      if (doc.text.empty()) continue;  // nothing to train on; not an error
      return document(doc, n);
    }
    return Result::end;
  }

  uint64_t offset() const override { return lines_.offset(); }

 private:
  LineReader lines_;
  std::string key_;
};

// Paragraphs (blank-line) or single lines of a text file.
class TextLinesReader final : public InputFileReader {
 public:
  TextLinesReader(const fs::path& path, TextSplit split) : InputFileReader(path), lines_(path), split_(split) {}

  Result next(InputDocument& doc, BadLine& bad) override {
    doc.text.clear();
    uint64_t first = 0;
    std::string_view line;
    while (lines_.next(line)) {
      const bool blank = line.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
      if (blank) {
        if (first != 0) break;  // end of a paragraph
        continue;
      }
      if (first == 0) {
        first = lines_.line_number();
      } else {
        doc.text += '\n';
      }
      doc.text += line;
      if (split_ == TextSplit::line) break;
    }
    if (first == 0) return Result::end;
    if (const size_t off = tokenizer::find_invalid_utf8(doc.text); off != std::string_view::npos) {
      return bad_utf8(bad, doc.text, off, first);
    }
    return document(doc, first);
  }

  uint64_t offset() const override { return lines_.offset(); }

 private:
  LineReader lines_;
  TextSplit split_;
};

// The whole file as one document, byte for byte.
class WholeFileReader final : public InputFileReader {
 public:
  explicit WholeFileReader(const fs::path& path) : InputFileReader(path), path_(path) {}

  Result next(InputDocument& doc, BadLine& bad) override {
    if (done_) return Result::end;
    done_ = true;
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw std::runtime_error(name_ + ": cannot open: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    doc.text = std::move(ss).str();
    offset_ = doc.text.size();
    if (doc.text.find_first_not_of(" \t\r\n\f\v") == std::string::npos) return Result::end;
    if (const size_t off = tokenizer::find_invalid_utf8(doc.text); off != std::string_view::npos) {
      return bad_utf8(bad, doc.text, off, 1);
    }
    return document(doc, 1);
  }

  uint64_t offset() const override { return offset_; }

 private:
  fs::path path_;
  bool done_ = false;
  uint64_t offset_ = 0;
};

}  // namespace

TextInput::TextInput(std::vector<fs::path> files, TextInputOptions options)
    : files_(std::move(files)), options_(std::move(options)) {
  if (files_.empty()) throw InputError("no input files");
  for (const auto& f : files_) {
    std::error_code ec;
    const auto status = fs::status(f, ec);
    if (ec || !fs::exists(status)) throw InputError(f.string() + ": no such file");
    if (fs::is_directory(status)) throw InputError(f.string() + ": is a directory, expected a file");
    std::ifstream probe(f, std::ios::binary);
    if (!probe) throw InputError(f.string() + ": cannot open: " + std::strerror(errno));
    total_bytes_ += fs::file_size(f, ec);
  }
}

TextInput::~TextInput() = default;

uint64_t TextInput::bytes_consumed() const { return finished_bytes_ + (reader_ ? reader_->offset() : 0); }

bool TextInput::open_next_file() {
  if (reader_) {
    finished_bytes_ += reader_->offset();
    reader_.reset();
  }
  if (next_file_ >= files_.size()) return false;
  const fs::path& path = files_[next_file_++];
  const InputFormat format =
      options_.format == InputFormat::auto_detect ? detect_input_format(path) : options_.format;
  if (format == InputFormat::jsonl)
    reader_ = std::make_unique<JsonlReader>(path, options_.text_key);
  else if (options_.split == TextSplit::file)
    reader_ = std::make_unique<WholeFileReader>(path);
  else
    reader_ = std::make_unique<TextLinesReader>(path, options_.split);
  return true;
}

void TextInput::reject(BadLine bad) {
  if (options_.on_bad_line == BadLinePolicy::stop)
    throw InputError(bad.text() + " (--on-bad-line skip to skip such lines)");
  ++bad_.count;
  if (bad_.first.size() < options_.max_reported) bad_.first.push_back(std::move(bad));
}

bool TextInput::next(InputDocument& doc) {
  for (;;) {
    if (!reader_ && !open_next_file()) return false;
    BadLine bad;
    switch (reader_->next(doc, bad)) {
      case Result::document:
        ++documents_;
        return true;
      case Result::bad:
        reject(std::move(bad));
        break;
      case Result::end:
        if (!open_next_file()) return false;
        break;
    }
  }
}

}  // namespace kiln::data_tools
