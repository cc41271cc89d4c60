// kiln's HDF5 token shard: the `hdf5` ShardFormat (object-by-object layout in docs/data-formats.md).
//
//   /                      root attributes:
//     format               string "kiln-tokens"
//     version              int64 1
//     vocab_size           int64, the vocabulary the ids were written for
//     eod_token_id         int64, −1 when none was given
//     tokenizer            string, may be empty (a name or a path, for people reading the file)
//   /tokens                1-D, uint16 or int32 little-endian (token_dtype_for_vocab(vocab_size)),
//                          CONTIGUOUS layout, no filters: the concatenated token stream
//   /document_offsets      1-D int64 [D + 1]: 0, end of document 0, …, total tokens
//
// Why contiguous: the reader asks HDF5 once, at open, where /tokens starts in the file
// (H5Dget_offset) and then maps the file, so read_tokens is a plain widening copy like the mmap
// format's, with no HDF5 call, lock or allocation on the loader's hot path. The offsets (8 bytes per
// document) are read into memory at open. A file whose /tokens is chunked or compressed (h5repack,
// another writer) is refused with a message that says so.
//
// The writer streams tokens to a raw temporary beside the destination (a contiguous dataset needs
// its length when it is created), then at finish() creates the HDF5 file under a temporary name,
// copies the tokens in with H5Dwrite in 1 Mi-token blocks, closes, fsyncs and renames it into place.
// That costs a second pass over the tokens on disk, which is cheap next to tokenizing them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/formats/document_store.h"
#include "data/formats/mapped_file.h"
#include "data/formats/output_file.h"

namespace kiln {

namespace kiln_h5 {
inline constexpr const char* kFormatName = "kiln-tokens";
inline constexpr int64_t kVersion = 1;
inline constexpr const char* kTokens = "tokens";
inline constexpr const char* kDocumentOffsets = "document_offsets";
}  // namespace kiln_h5

class Hdf5TokenStore final : public DocumentStore {
 public:
  explicit Hdf5TokenStore(const std::filesystem::path& path);

  const std::string& path() const override { return path_; }
  ShardFormat format() const override { return ShardFormat::hdf5; }
  TokenDType dtype() const override { return dtype_; }
  uint64_t num_documents() const override { return offsets_.size() - 1; }
  uint64_t num_tokens() const override { return num_tokens_; }
  uint64_t doc_offset(uint64_t d) const override;
  void read_tokens(uint64_t begin, std::span<int32_t> out) const override;

  // What the root attributes record.
  int64_t vocab_size() const { return vocab_size_; }
  int64_t eod_token_id() const { return eod_token_id_; }
  const std::string& tokenizer() const { return tokenizer_; }
  // Byte offset of /tokens' data in the file (0 when there are no tokens).
  uint64_t tokens_file_offset() const { return tokens_offset_; }

 private:
  std::string path_;
  TokenDType dtype_ = TokenDType::uint16;
  uint64_t num_tokens_ = 0;
  uint64_t tokens_offset_ = 0;
  int64_t vocab_size_ = 0;
  int64_t eod_token_id_ = -1;
  std::string tokenizer_;
  std::vector<uint64_t> offsets_;
  MappedFile file_;
  const std::byte* tokens_ = nullptr;
};

class Hdf5TokenWriter final : public DocumentWriter {
 public:
  Hdf5TokenWriter(const std::filesystem::path& path, int64_t vocab_size, std::string tokenizer = "",
                  int64_t eod_token_id = -1);

  void add(std::span<const int32_t> tokens) override;
  void finish() override;

 private:
  std::filesystem::path path_;
  int64_t vocab_size_;
  std::string tokenizer_;
  int64_t eod_token_id_;
  TokenDType dtype_;
  OutputFile raw_;  // the token stream, never renamed: removed when the writer goes away
  std::vector<int64_t> offsets_{0};
  std::vector<uint16_t> narrow_;
  bool finished_ = false;
};

}  // namespace kiln
