// Reads a file line by line through a fixed-size buffer, so that a corpus of any size is read in
// constant memory (a single line is held whole, however long it is).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace kiln::data_tools {

class LineReader {
 public:
  // Throws std::runtime_error naming the file when it cannot be opened.
  explicit LineReader(const std::filesystem::path& path, size_t chunk_bytes = size_t{1} << 20);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its "\n" (and without a "\r" before it); the view stays valid until the
  // next call. The last line of a file need not end in "\n". False at the end of the file.
  bool next(std::string_view& line);

  // 1-based number of the line next() returned last.
  uint64_t line_number() const { return line_number_; }
  // Bytes of the file consumed so far (up to the end of the line returned last).
  uint64_t offset() const { return offset_; }

 private:
  bool fill();  // reads one more chunk; false at end of file

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  size_t chunk_bytes_;
  std::string buf_;
  size_t begin_ = 0;  // unread data is buf_[begin_, buf_.size())
  bool eof_ = false;
  uint64_t line_number_ = 0;
  uint64_t offset_ = 0;
};

}  // namespace kiln::data_tools
