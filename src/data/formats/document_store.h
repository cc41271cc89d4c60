// Pre-tokenized corpora on disk: the readers and writers behind the loader and kiln-data.
//
// A document store is a read-only sequence of documents, each a sequence of token ids, stored
// back to back: documents 0 … D−1 occupy token offsets [doc_offset(d), doc_offset(d + 1)) of one
// concatenated token stream of num_tokens() tokens. Both on-disk formats are this shape:
//   mmap   GPT-NeoX / Megatron-LM indexed dataset, PREFIX.bin + PREFIX.idx (MMIDIDX v1, SPEC §4);
//          every sequence of the index is one document.
//   hdf5   kiln's HDF5 token shard (layout in docs/data-formats.md): a 1-D token dataset and the
//          document offsets.
// Cerebras' [N, 3, MSL] HDF5 files hold fixed-length samples rather than documents; they are
// read through CerebrasSamples (cerebras_hdf5.h), not this interface.
//
// Readers check the whole file structure when opened (header, sizes, offsets, file lengths) and
// throw DataFormatError naming the file and the byte offset or index that is wrong. Token values
// are not scanned at open (that is verify()'s job, and the loader's per-sample bound check).
// Opened stores are immutable and safe to read from many threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

namespace kiln {

struct DataFormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class ShardFormat { mmap, hdf5 };

// Token storage width. The NeoX rule: uint16 when vocab_size < 65,500, else int32.
enum class TokenDType { uint16, int32 };
TokenDType token_dtype_for_vocab(int64_t vocab_size);

class DocumentStore {
 public:
  virtual ~DocumentStore() = default;

  // The path as the user gave it (the prefix for mmap), for messages.
  virtual const std::string& path() const = 0;
  virtual ShardFormat format() const = 0;
  virtual TokenDType dtype() const = 0;

  virtual uint64_t num_documents() const = 0;
  virtual uint64_t num_tokens() const = 0;
  // Token offset of document d's first token, d ∈ [0, num_documents()];
  // doc_offset(num_documents()) == num_tokens().
  virtual uint64_t doc_offset(uint64_t d) const = 0;

  // Copies tokens [begin, begin + out.size()) of the concatenated stream into out, widened to
  // int32. Requires begin + out.size() ≤ num_tokens() (std::out_of_range otherwise).
  virtual void read_tokens(uint64_t begin, std::span<int32_t> out) const = 0;
};

// Opens `path` in `format` (mmap: the prefix, with or without the .bin/.idx extension).
std::unique_ptr<DocumentStore> open_document_store(const std::filesystem::path& path, ShardFormat format);

// Writes documents one after another; nothing appears at the destination until finish().
// The files are written under temporary names in the destination directory, fsynced and renamed
// by finish(); destroying a writer without finish() removes the temporaries, so an interrupted
// tokenize leaves no half-written shard that a loader could mistake for a whole one.
class DocumentWriter {
 public:
  virtual ~DocumentWriter() = default;
  // Appends one document. Throws DataFormatError if a token is negative or ≥ the vocab size.
  virtual void add(std::span<const int32_t> tokens) = 0;
  virtual void finish() = 0;
};

// `path`: the prefix for mmap (PREFIX.bin and PREFIX.idx are written), the .h5 file for hdf5.
// The token dtype follows token_dtype_for_vocab(vocab_size). `tokenizer` (may be empty) and
// `eod_token_id` (−1: none) are recorded where the format has room for them (hdf5 attributes).
std::unique_ptr<DocumentWriter> create_document_writer(const std::filesystem::path& path, ShardFormat format,
                                                       int64_t vocab_size, const std::string& tokenizer = "",
                                                       int64_t eod_token_id = -1);

// ---- additions: names and format detection, for tools that take "any shard" --------------------

const char* shard_format_name(ShardFormat format);  // "mmap", "hdf5"
const char* token_dtype_name(TokenDType dtype);    // "uint16", "int32"

// What a path on disk holds.
enum class DetectedFormat { mmap, kiln_hdf5, cerebras_hdf5 };
const char* detected_format_name(DetectedFormat format);  // "mmap", "kiln hdf5", "cerebras hdf5"

// A file named *.h5 / *.hdf5, or any existing file HDF5 recognises, is opened and told apart by
// its contents: root attribute format = "kiln-tokens" → kiln_hdf5; dataset `data` and root
// attribute `n_examples` → cerebras_hdf5. Otherwise `path` is an mmap pair if PREFIX.idx exists,
// where PREFIX is `path` less a .bin/.idx extension. Throws DataFormatError saying what it found
// and what it looked for.
DetectedFormat detect_format(const std::filesystem::path& path);

}  // namespace kiln
