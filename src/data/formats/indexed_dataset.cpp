#include "data/formats/indexed_dataset.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "data/formats/token_bytes.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using std::to_string;

fs::path with_suffix(const fs::path& prefix, const char* ext) { return fs::path(prefix.string() + ext); }

// The bytes as a C-ish literal, for "magic is '…'" messages.
std::string escaped(const std::byte* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      s += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      s += buf;
    }
  }
  return s;
}

}  // namespace

namespace mmidx {

std::optional<std::string> dtype_code_name(uint8_t code) {
  switch (code) {
    case 1:
      return "uint8";
    case 2:
      return "int8";
    case 3:
      return "int16";
    case 4:
      return "int32";
    case 5:
      return "int64";
    case 6:
      return "float32";
    case 7:
      return "float64";
    case 8:
      return "uint16";
    default:
      return std::nullopt;
  }
}

uint8_t dtype_code(TokenDType dtype) { return dtype == TokenDType::uint16 ? kCodeUint16 : kCodeInt32; }

}  // namespace mmidx

fs::path indexed_dataset_prefix(const fs::path& path) {
  const auto ext = path.extension();
  if (ext == ".bin" || ext == ".idx") return fs::path(path).replace_extension();
  return path;
}

// ---- reader -------------------------------------------------------------------------------------

IndexedDataset::IndexedDataset(const fs::path& path)
    : prefix_(indexed_dataset_prefix(path).string()), idx_(with_suffix(prefix_, ".idx")) {
  check_index();
}

void IndexedDataset::check_index() {
  const std::string idx = idx_.path().string();
  const std::byte* p = idx_.data();
  const size_t size = idx_.size();
  auto fail = [&](const std::string& what) { throw DataFormatError(idx + ": " + what); };

  if (size < mmidx::kMagic.size()) {
    fail("file is " + to_string(size) + " bytes, too short for the 9-byte MMIDIDX magic");
  }
  if (std::memcmp(p, mmidx::kMagic.data(), mmidx::kMagic.size()) != 0) {
    fail("byte 0: magic is '" + escaped(p, 9) + "', expected 'MMIDIDX\\x00\\x00' (not a GPT-NeoX/Megatron mmap index)");
  }
  if (size < mmidx::kHeaderBytes) {
    fail("file is " + to_string(size) + " bytes, too short for the " + to_string(mmidx::kHeaderBytes) +
         "-byte MMIDIDX header (truncated)");
  }
  const auto version = load_le<uint64_t>(p + mmidx::kVersionOffset);
  if (version != mmidx::kVersion) {
    fail("byte 9: version is " + to_string(version) + ", expected 1");
  }
  const auto code = static_cast<uint8_t>(p[mmidx::kDTypeOffset]);
  if (code == mmidx::kCodeUint16) {
    dtype_ = TokenDType::uint16;
  } else if (code == mmidx::kCodeInt32) {
    dtype_ = TokenDType::int32;
  } else {
    auto name = mmidx::dtype_code_name(code);
    fail("byte 17: dtype code " + to_string(code) + (name ? " (" + *name + ")" : std::string(" (unknown)")) +
         " is not a token dtype kiln reads; expected 8 (uint16) or 4 (int32)");
  }
  itemsize_ = token_itemsize(dtype_);
  item_shift_ = itemsize_ == 2 ? 1 : 2;
  n_ = load_le<uint64_t>(p + mmidx::kCountOffset);
  d_ = load_le<uint64_t>(p + mmidx::kDocCountOffset);

  // The exact length N and D call for; overflow means the counts cannot be real.
  uint64_t expected = 0;
  bool overflow = __builtin_mul_overflow(n_, uint64_t{12}, &expected);
  uint64_t doc_bytes = 0;
  overflow |= __builtin_mul_overflow(d_, uint64_t{8}, &doc_bytes);
  overflow |= __builtin_add_overflow(expected, doc_bytes, &expected);
  overflow |= __builtin_add_overflow(expected, uint64_t{mmidx::kHeaderBytes}, &expected);
  const std::string layout = "34-byte header + N = " + to_string(n_) + " sizes × 4 + " + to_string(n_) +
                             " pointers × 8 + D = " + to_string(d_) + " doc_idx × 8";
  if (overflow)
    fail("file is " + to_string(size) + " bytes, but N and D (bytes 18 and 26) ask for more than 2^64 (" + layout +
         ")");
  if (size != expected) {
    fail("file is " + to_string(size) + " bytes, expected exactly " + to_string(expected) + " (" + layout + ")" +
         (size < expected ? ": truncated" : ": extra bytes after the doc_idx array"));
  }

  const std::byte* sizes = p + mmidx::kHeaderBytes;
  pointers_ = sizes + 4 * n_;
  const std::byte* doc_idx = pointers_ + 8 * n_;
  auto offset_of = [&](const std::byte* q) { return to_string(static_cast<size_t>(q - p)); };

  uint64_t tokens = 0;
  for (uint64_t i = 0; i < n_; ++i) {
    const auto s = load_le<int32_t>(sizes + 4 * i);
    if (s < 0) {
      fail("byte " + offset_of(sizes + 4 * i) + ": size of sequence " + to_string(i) + " is " + to_string(s) +
           ", expected ≥ 0");
    }
    const auto ptr = load_le<int64_t>(pointers_ + 8 * i);
    if (static_cast<uint64_t>(ptr) != tokens * itemsize_ || ptr < 0) {
      fail("byte " + offset_of(pointers_ + 8 * i) + ": pointer of sequence " + to_string(i) + " is " + to_string(ptr) +
           ", expected " + to_string(tokens * itemsize_) +
           (i == 0 ? std::string(" (the first sequence starts the .bin)")
                   : " (pointer " + to_string(i - 1) + " + size " + to_string(load_le<int32_t>(sizes + 4 * (i - 1))) +
                         " × " + to_string(itemsize_) + " bytes): sequences must be stored back to back"));
    }
    tokens += static_cast<uint64_t>(s);
  }
  num_tokens_ = tokens;

  if (d_ == 0) fail("byte 26: D is 0, expected a doc_idx array starting with 0");
  int64_t prev = 0;
  for (uint64_t j = 0; j < d_; ++j) {
    const auto v = load_le<int64_t>(doc_idx + 8 * j);
    const std::string at = "byte " + offset_of(doc_idx + 8 * j) + ": doc_idx[" + to_string(j) + "] is " + to_string(v);
    if (j == 0 && v != 0) fail(at + ", expected 0");
    if (v < prev)
      fail(at + ", less than doc_idx[" + to_string(j - 1) + "] = " + to_string(prev) + ": expected non-decreasing");
    if (static_cast<uint64_t>(v) > n_) fail(at + ", more than N = " + to_string(n_) + " sequences");
    prev = v;
  }
  if (static_cast<uint64_t>(prev) != n_) {
    fail("byte " + offset_of(doc_idx + 8 * (d_ - 1)) + ": doc_idx[" + to_string(d_ - 1) + "] is " + to_string(prev) +
         ", expected N = " + to_string(n_) + " (the last entry closes the last document)");
  }

  // The .bin is opened only now, so that a broken index is reported before a missing .bin.
  bin_ = MappedFile(with_suffix(prefix_, ".bin"));
  const std::string bin = bin_.path().string();
  if (bin_.size() != num_tokens_ * itemsize_) {
    throw DataFormatError(bin + ": file is " + to_string(bin_.size()) + " bytes, expected " +
                          to_string(num_tokens_ * itemsize_) + " (" + to_string(num_tokens_) + " " +
                          token_dtype_name(dtype_) + " tokens, from " + idx + ")" +
                          (bin_.size() < num_tokens_ * itemsize_ ? ": truncated" : ": extra bytes at the end"));
  }
}

uint64_t IndexedDataset::doc_offset(uint64_t d) const {
  // Pointers are byte offsets, checked at open to be multiples of the item size.
  if (d < n_) return static_cast<uint64_t>(load_le<int64_t>(pointers_ + 8 * d)) >> item_shift_;
  if (d == n_) return num_tokens_;
  throw std::out_of_range(prefix_ + ": document " + to_string(d) + " requested, the store holds " + to_string(n_));
}

void IndexedDataset::read_tokens(uint64_t begin, std::span<int32_t> out) const {
  check_token_range(prefix_, begin, out.size(), num_tokens_);
  copy_widened(dtype_, bin_.data(), begin, out);
}

// ---- writer -------------------------------------------------------------------------------------

IndexedDatasetWriter::IndexedDatasetWriter(const fs::path& prefix, int64_t vocab_size)
    : prefix_(indexed_dataset_prefix(prefix)),
      vocab_size_(vocab_size),
      dtype_(token_dtype_for_vocab(vocab_size)),
      bin_(with_suffix(prefix_, ".bin")),
      idx_(with_suffix(prefix_, ".idx")) {}

void IndexedDatasetWriter::add(std::span<const int32_t> tokens) {
  if (finished_) throw DataFormatError(prefix_.string() + ": add() after finish()");
  check_document_tokens(bin_.destination().string(), sizes_.size(), tokens, vocab_size_);
  if (tokens.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw DataFormatError(bin_.destination().string() + ": document " + to_string(sizes_.size()) + " has " +
                          to_string(tokens.size()) + " tokens; an MMIDIDX size is an int32");
  }
  if (dtype_ == TokenDType::int32) {
    bin_.write(tokens.data(), tokens.size_bytes());
  } else {
    narrow_.resize(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) narrow_[i] = static_cast<uint16_t>(tokens[i]);
    bin_.write(narrow_.data(), narrow_.size() * 2);
  }
  sizes_.push_back(static_cast<int32_t>(tokens.size()));
}

void IndexedDatasetWriter::finish() {
  if (finished_) throw DataFormatError(prefix_.string() + ": finish() called twice");
  // MMapIndexedDataset.Index.writer: magic, <Q version, <B code, <Q len(sizes), <Q len(doc_idx),
  // then sizes as int32, pointers as int64 (byte offsets, a running sum), doc_idx as int64.
  const uint64_t n = sizes_.size();
  const uint64_t d = n + 1;
  idx_.write(mmidx::kMagic.data(), mmidx::kMagic.size());
  idx_.write(&mmidx::kVersion, 8);
  const uint8_t code = mmidx::dtype_code(dtype_);
  idx_.write(&code, 1);
  idx_.write(&n, 8);
  idx_.write(&d, 8);
  idx_.write(sizes_.data(), sizes_.size() * 4);
  const int64_t itemsize = static_cast<int64_t>(token_itemsize(dtype_));
  int64_t pointer = 0;
  for (int32_t s : sizes_) {
    idx_.write(&pointer, 8);
    pointer += s * itemsize;
  }
  for (int64_t j = 0; j <= static_cast<int64_t>(n); ++j) idx_.write(&j, 8);

  bin_.sync_and_close();
  idx_.sync_and_close();
  bin_.commit();
  try {
    idx_.commit();
  } catch (...) {
    // Leave no new .bin beside an old or missing .idx.
    ::unlink(bin_.destination().c_str());
    throw;
  }
  finished_ = true;
  sync_parent_directory(idx_.destination());
}

}  // namespace kiln
