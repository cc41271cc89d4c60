// Any shard on disk, read as a sequence of documents: the adapter behind inspect and convert.
//
// The format is detected from the path (detect_format in data/formats/document_store.h). mmap
// and kiln HDF5 shards are document stores and are read document by document; Cerebras
// [N, 3, MSL] files hold samples and are turned back into documents by cerebras_documents(),
// cut after every end-of-document token when one is known. Either way, reading streams: one
// document (or one block of Cerebras rows) is in memory at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "data/formats/cerebras_hdf5.h"
#include "data/formats/document_store.h"

namespace kiln::data_tools {

class ShardSource {
 public:
  // Throws DataFormatError naming the path when it is not a shard kiln reads.
  explicit ShardSource(const std::filesystem::path& path);

  DetectedFormat format() const { return format_; }
  const std::string& path() const { return path_; }
  // The document store for mmap and kiln HDF5; nullptr for Cerebras.
  const DocumentStore* store() const { return store_.get(); }
  // The sample reader for Cerebras; nullptr otherwise.
  CerebrasSamples* cerebras() const { return cerebras_.get(); }

  // Calls emit(index, tokens) for every document in order (the span is valid during the call).
  // `eod_token_id` (−1: none) only matters for Cerebras input. Returns the document count.
  uint64_t for_each_document(int64_t eod_token_id,
                             const std::function<void(uint64_t, std::span<const int32_t>)>& emit) const;

 private:
  std::string path_;
  DetectedFormat format_;
  std::unique_ptr<DocumentStore> store_;
  std::unique_ptr<CerebrasSamples> cerebras_;
};

}  // namespace kiln::data_tools
