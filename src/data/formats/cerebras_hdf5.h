// Cerebras Model Zoo's GptHDF5MapDataProcessor files: fixed-length training samples, not documents.
//
//   *.h5   root attribute n_examples = N
//          dataset `data`, int32 [N, 3, MSL], chunked and gzip-compressed; row k holds
//            data[k, 0, :]  input_ids
//            data[k, 1, :]  loss mask (1 where a label is trained on, 0 on padding)
//            data[k, 2, :]  labels (the input shifted by one: labels[i] = input_ids[i + 1] inside
//                           a row, the row's last label being the next token of the stream)
//
// CerebrasSamples reads rows. Compressed rows cannot be mapped, so it reads whole chunks (HDF5
// decompresses a chunk entirely to return any part of it) and keeps the last block read: a
// sequential pass costs one H5Dread per block, not per row, and HDF5's own chunk cache is turned
// off so the data is not held twice. A block is one chunk along the row axis, or several when
// Options::min_rows_per_read asks for more (worth it for sequential passes over one-row chunks;
// for random access it only adds decompression). Not thread-safe: use one CerebrasSamples from one
// thread at a time (open one per thread to read in parallel; kiln's HDF5 lock serialises the
// library calls themselves).
//
// CerebrasWriter writes that layout (for `convert` and tests). cerebras_documents() turns a file
// back into documents, by the rule documented on it and in docs/data-formats.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "data/formats/document_store.h"
#include "data/formats/hdf5_util.h"
#include "data/formats/output_file.h"

namespace kiln {

class CerebrasSamples {
 public:
  struct Options {
    uint64_t min_rows_per_read = 1;
  };

  // Checks the layout: `data` present, rank 3, dim 1 == 3, int32; n_examples present and == N.
  explicit CerebrasSamples(const std::filesystem::path& path) : CerebrasSamples(path, Options{}) {}
  CerebrasSamples(const std::filesystem::path& path, Options options);
  ~CerebrasSamples();
  CerebrasSamples(const CerebrasSamples&) = delete;
  CerebrasSamples& operator=(const CerebrasSamples&) = delete;

  const std::string& path() const { return path_; }
  uint64_t num_samples() const { return n_; }
  uint64_t max_seq_length() const { return msl_; }
  // Rows fetched by one H5Dread (a multiple of the chunk's row count).
  uint64_t rows_per_read() const { return rows_per_read_; }

  // Row k. Each span must hold max_seq_length() values (std::invalid_argument otherwise);
  // k < num_samples() (std::out_of_range otherwise). HDF5 failures throw DataFormatError.
  void read_sample(uint64_t k, std::span<int32_t> input_ids, std::span<int32_t> labels, std::span<int32_t> loss_mask);

 private:
  void open(const std::filesystem::path& path, Options options);
  void load_block(uint64_t block);

  std::string path_;
  h5::Handle file_;
  h5::Handle data_;
  uint64_t n_ = 0;
  uint64_t msl_ = 0;
  uint64_t rows_per_read_ = 1;
  uint64_t cached_block_ = UINT64_MAX;
  std::vector<int32_t> cache_;  // rows_per_read_ × 3 × msl_
};

// Writes a Cerebras-layout file: the same temporaries/fsync/rename contract as DocumentWriter.
class CerebrasWriter {
 public:
  // rows_per_chunk 0: chosen so that a chunk is about 256 KiB.
  CerebrasWriter(const std::filesystem::path& path, uint64_t max_seq_length, uint64_t rows_per_chunk = 0,
                 int gzip_level = 4);
  ~CerebrasWriter();
  CerebrasWriter(const CerebrasWriter&) = delete;
  CerebrasWriter& operator=(const CerebrasWriter&) = delete;

  // One row as it is stored; each span holds max_seq_length values.
  void add(std::span<const int32_t> input_ids, std::span<const int32_t> loss_mask, std::span<const int32_t> labels);
  // One row from a piece of 2 … max_seq_length + 1 tokens of a packed stream, as the Model Zoo's
  // LM preprocessing makes it: input_ids = piece[:-1], labels = piece[1:], mask 1, then padded to
  // max_seq_length with pad_id (mask 0).
  void add_piece(std::span<const int32_t> piece, int32_t pad_id = 0);
  void finish();

  uint64_t num_samples() const { return rows_written_ + pending_rows_; }

 private:
  void create(int gzip_level);
  void flush_rows();

  std::filesystem::path path_;
  std::string name_;
  uint64_t msl_;
  uint64_t rows_per_chunk_;
  TempPath tmp_;  // declared before the handles: they close before it removes the file
  h5::Handle file_;
  h5::Handle data_;
  std::vector<int32_t> pending_;  // rows_per_chunk_ × 3 × msl_
  uint64_t pending_rows_ = 0;
  uint64_t rows_written_ = 0;
  bool finished_ = false;
};

// Documents from a Cerebras file, in order, for conversion to a document store.
//
// Each row's piece of the packed stream is rebuilt as input_ids[0 … L) followed by labels[L − 1],
// where L is one past the last position whose loss mask is 1 (a row with no mask-1 position adds
// nothing). This inverts the Model Zoo's packing (non-overlapping pieces of MSL + 1 tokens), so
// concatenating the pieces gives back the token stream. The stream is then cut after every
// eod_token_id (which stays at the end of its document); tokens after the last one form a final
// document. With eod_token_id < 0 every row's piece is one document.
// Calls emit once per document; returns the number of documents.
uint64_t cerebras_documents(CerebrasSamples& samples, int64_t eod_token_id,
                            const std::function<void(std::span<const int32_t>)>& emit);
// The same, added to a writer (finish() is left to the caller).
uint64_t cerebras_documents(CerebrasSamples& samples, int64_t eod_token_id, DocumentWriter& out);

}  // namespace kiln
