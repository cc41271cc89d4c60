#include "line_reader.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kiln::data_tools {

LineReader::LineReader(const std::filesystem::path& path, size_t chunk_bytes)
    : path_(path), chunk_bytes_(chunk_bytes) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw std::runtime_error(path.string() + ": cannot open: " + std::strerror(errno));
}

LineReader::~LineReader() {
  if (file_) std::fclose(file_);
}

bool LineReader::fill() {
  if (eof_) return false;
  // Drop what has been consumed before growing, so the buffer holds at most one line plus a chunk.
  if (begin_ > 0) {
    buf_.erase(0, begin_);
    begin_ = 0;
  }
  const size_t old = buf_.size();
  buf_.resize(old + chunk_bytes_);
  const size_t got = std::fread(buf_.data() + old, 1, chunk_bytes_, file_);
  buf_.resize(old + got);
  if (got < chunk_bytes_) {
    if (std::ferror(file_)) throw std::runtime_error(path_.string() + ": read error at byte " +
                                                     std::to_string(offset_ + (old - begin_)) + ": " +
                                                     std::strerror(errno));
    eof_ = true;
  }
  return got > 0;
}

bool LineReader::next(std::string_view& line) {
  size_t scanned = begin_;  // bytes already searched for '\n', so a long line is scanned once
  for (;;) {
    const void* nl = std::memchr(buf_.data() + scanned, '\n', buf_.size() - scanned);
    if (nl) {
      const size_t end = static_cast<const char*>(nl) - buf_.data();
      size_t stop = end;
      if (stop > begin_ && buf_[stop - 1] == '\r') --stop;
      line = std::string_view(buf_.data() + begin_, stop - begin_);
      offset_ += end + 1 - begin_;
      begin_ = end + 1;
      ++line_number_;
      return true;
    }
    const size_t searched = buf_.size() - begin_;
    if (!fill()) break;
    scanned = begin_ + searched;  // fill() moved the unread data to the front
  }
  if (begin_ >= buf_.size()) return false;
  // The last line, with no "\n" after it.
  size_t stop = buf_.size();
  if (buf_[stop - 1] == '\r') --stop;
  line = std::string_view(buf_.data() + begin_, stop - begin_);
  offset_ += buf_.size() - begin_;
  begin_ = buf_.size();
  ++line_number_;
  return true;
}

}  // namespace kiln::data_tools
