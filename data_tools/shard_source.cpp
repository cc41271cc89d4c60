#include "shard_source.h"

#include <vector>

namespace kiln::data_tools {

ShardSource::ShardSource(const std::filesystem::path& path) : path_(path.string()), format_(detect_format(path)) {
  switch (format_) {
    case DetectedFormat::mmap:
      store_ = open_document_store(path, ShardFormat::mmap);
      break;
    case DetectedFormat::kiln_hdf5:
      store_ = open_document_store(path, ShardFormat::hdf5);
      break;
    case DetectedFormat::cerebras_hdf5:
      // Sequential passes only: read several chunks per HDF5 call.
      cerebras_ = std::make_unique<CerebrasSamples>(path, CerebrasSamples::Options{.min_rows_per_read = 64});
      break;
  }
}

uint64_t ShardSource::for_each_document(int64_t eod_token_id,
                                        const std::function<void(uint64_t, std::span<const int32_t>)>& emit) const {
  if (cerebras_) {
    uint64_t index = 0;
    return cerebras_documents(*cerebras_, eod_token_id, [&](std::span<const int32_t> doc) { emit(index++, doc); });
  }
  std::vector<int32_t> buf;
  const uint64_t n = store_->num_documents();
  for (uint64_t d = 0; d < n; ++d) {
    const uint64_t begin = store_->doc_offset(d), end = store_->doc_offset(d + 1);
    buf.resize(end - begin);
    store_->read_tokens(begin, buf);
    emit(d, buf);
  }
  return n;
}

}  // namespace kiln::data_tools
