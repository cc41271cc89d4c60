// The format-independent entry points of document_store.h: the dtype rule, dispatch to the
// readers and writers, and telling formats apart on disk.
#include "data/formats/document_store.h"

#include <limits>

#include "data/formats/hdf5_tokens.h"
#include "data/formats/hdf5_util.h"
#include "data/formats/indexed_dataset.h"

namespace kiln {

namespace fs = std::filesystem;

TokenDType token_dtype_for_vocab(int64_t vocab_size) {
  if (vocab_size <= 0) {
    throw DataFormatError("vocab_size " + std::to_string(vocab_size) + " is not positive");
  }
  if (vocab_size > int64_t{std::numeric_limits<int32_t>::max()} + 1) {
    throw DataFormatError("vocab_size " + std::to_string(vocab_size) + " does not fit int32 token ids");
  }
  // NeoX's best_fitting_dtype: the margin below 65,536 is its own choice, kept so that kiln and
  // NeoX pick the same width for the same tokenizer.
  return vocab_size < 65500 ? TokenDType::uint16 : TokenDType::int32;
}

const char* shard_format_name(ShardFormat format) { return format == ShardFormat::mmap ? "mmap" : "hdf5"; }

const char* token_dtype_name(TokenDType dtype) { return dtype == TokenDType::uint16 ? "uint16" : "int32"; }

const char* detected_format_name(DetectedFormat format) {
  switch (format) {
    case DetectedFormat::mmap:
      return "mmap";
    case DetectedFormat::kiln_hdf5:
      return "kiln hdf5";
    case DetectedFormat::cerebras_hdf5:
      return "cerebras hdf5";
  }
  return "?";
}

std::unique_ptr<DocumentStore> open_document_store(const fs::path& path, ShardFormat format) {
  if (format == ShardFormat::mmap) return std::make_unique<IndexedDataset>(path);
  return std::make_unique<Hdf5TokenStore>(path);
}

std::unique_ptr<DocumentWriter> create_document_writer(const fs::path& path, ShardFormat format, int64_t vocab_size,
                                                       const std::string& tokenizer, int64_t eod_token_id) {
  if (format == ShardFormat::mmap) return std::make_unique<IndexedDatasetWriter>(path, vocab_size);
  return std::make_unique<Hdf5TokenWriter>(path, vocab_size, tokenizer, eod_token_id);
}

DetectedFormat detect_format(const fs::path& path) {
  const std::string name = path.string();
  const auto ext = path.extension();
  std::error_code ec;
  const bool is_file = fs::is_regular_file(path, ec);
  bool hdf5 = ext == ".h5" || ext == ".hdf5";
  if (!hdf5 && is_file && ext != ".bin" && ext != ".idx") {
    h5::Session session;
    hdf5 = H5Fis_hdf5(path.c_str()) > 0;
    H5Eclear2(H5E_DEFAULT);
  }
  if (hdf5) {
    if (!is_file) throw DataFormatError(name + ": no such file");
    h5::Session session;
    h5::Handle file =
        h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, name, "cannot open as an HDF5 file");
    if (h5::has_attribute(file.get(), "format")) return DetectedFormat::kiln_hdf5;
    if (h5::has_link(file.get(), "data") && h5::has_attribute(file.get(), "n_examples")) {
      return DetectedFormat::cerebras_hdf5;
    }
    throw DataFormatError(name +
                          ": an HDF5 file with neither a root attribute 'format' (kiln token shard) nor "
                          "dataset 'data' with attribute 'n_examples' (Cerebras GptHDF5MapDataProcessor)");
  }
  const fs::path prefix = indexed_dataset_prefix(path);
  if (fs::exists(fs::path(prefix.string() + ".idx"), ec)) return DetectedFormat::mmap;
  throw DataFormatError(name + ": cannot tell the format: expected a .h5/.hdf5 file, or an mmap dataset prefix with " +
                        prefix.string() + ".idx and " + prefix.string() + ".bin beside it");
}

}  // namespace kiln
