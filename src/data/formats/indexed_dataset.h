// GPT-NeoX / Megatron-LM mmap indexed datasets (MMIDIDX v1): PREFIX.idx + PREFIX.bin.
//
// Layout (little-endian; docs/data-formats.md has the byte-by-byte table):
//   .idx  magic "MMIDIDX\0\0" (9 bytes) · version u64 = 1 · dtype code u8 · N u64 · D u64 ·
//         sizes int32[N] · pointers int64[N] · doc_idx int64[D]          (nothing after)
//   .bin  the N token arrays back to back; sequence i is sizes[i] tokens at byte pointers[i].
// kiln reads the token dtypes NeoX writes: code 8 (uint16) and code 4 (int32); every other code
// is refused by name. Each sequence is one document (what NeoX's preprocess_data writes: one
// sequence per document, doc_idx = 0, 1, …, N); doc_idx is checked but otherwise unused.
//
// IndexedDataset checks at open: header, the exact .idx length for N and D, sizes ≥ 0, pointers
// back to back from 0, the .bin length, doc_idx from 0 non-decreasing to N. Everything it
// reports names the file and the byte offset (and array index) that is wrong. doc_offset and
// read_tokens read the mapped index and data directly: O(1), no allocation.
//
// IndexedDatasetWriter produces the files GPT-NeoX's MMapIndexedDatasetBuilder
// (megatron/data/indexed_dataset.py) writes when every document is one add_item + end_document,
// byte for byte, under the DocumentWriter contract (temporaries, fsync, rename at finish()).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/formats/document_store.h"
#include "data/formats/mapped_file.h"
#include "data/formats/output_file.h"

namespace kiln {

namespace mmidx {
inline constexpr std::array<char, 9> kMagic = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};
inline constexpr uint64_t kVersion = 1;
// Byte offsets of the header fields and the header's size.
inline constexpr size_t kVersionOffset = 9;
inline constexpr size_t kDTypeOffset = 17;
inline constexpr size_t kCountOffset = 18;     // N
inline constexpr size_t kDocCountOffset = 26;  // D
inline constexpr size_t kHeaderBytes = 34;
// NeoX's dtype codes (Megatron-LM swaps 6 and 7; kiln reads neither).
inline constexpr uint8_t kCodeUint16 = 8;
inline constexpr uint8_t kCodeInt32 = 4;

// "uint8", "int64", … for codes 1–8; nullopt for anything else.
std::optional<std::string> dtype_code_name(uint8_t code);
uint8_t dtype_code(TokenDType dtype);
}  // namespace mmidx

// PREFIX for PREFIX, PREFIX.bin or PREFIX.idx.
std::filesystem::path indexed_dataset_prefix(const std::filesystem::path& path);

class IndexedDataset final : public DocumentStore {
 public:
  // `path`: the prefix, or either file of the pair.
  explicit IndexedDataset(const std::filesystem::path& path);

  const std::string& path() const override { return prefix_; }
  ShardFormat format() const override { return ShardFormat::mmap; }
  TokenDType dtype() const override { return dtype_; }
  uint64_t num_documents() const override { return n_; }
  uint64_t num_tokens() const override { return num_tokens_; }
  uint64_t doc_offset(uint64_t d) const override;
  void read_tokens(uint64_t begin, std::span<int32_t> out) const override;

  const std::filesystem::path& idx_file() const { return idx_.path(); }
  const std::filesystem::path& bin_file() const { return bin_.path(); }
  uint64_t doc_idx_length() const { return d_; }

 private:
  void check_index();

  std::string prefix_;
  MappedFile idx_;
  MappedFile bin_;
  TokenDType dtype_ = TokenDType::uint16;
  size_t itemsize_ = 2;
  unsigned item_shift_ = 1;  // log2(itemsize_)
  uint64_t n_ = 0;
  uint64_t d_ = 0;
  uint64_t num_tokens_ = 0;
  const std::byte* pointers_ = nullptr;  // int64[N] inside idx_
};

class IndexedDatasetWriter final : public DocumentWriter {
 public:
  // Writes PREFIX.bin and PREFIX.idx (`prefix` may also name either file).
  IndexedDatasetWriter(const std::filesystem::path& prefix, int64_t vocab_size);

  void add(std::span<const int32_t> tokens) override;
  void finish() override;

 private:
  std::filesystem::path prefix_;
  int64_t vocab_size_;
  TokenDType dtype_;
  OutputFile bin_;
  OutputFile idx_;
  std::vector<int32_t> sizes_;
  std::vector<uint16_t> narrow_;  // reused staging for uint16 output
  bool finished_ = false;
};

}  // namespace kiln
