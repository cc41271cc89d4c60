// Samples straight from a Cerebras [N, 3, MSL] HDF5 file (BTLM's data format): row k of the
// file is sample k, with its own input_ids, labels and loss mask, so rows are used as they are
// (MSL must equal model.seq_length). Epochs and shuffling are applied above, as for packed
// documents.
//
// The file carries no document index, so document structure comes from the end-of-document
// token: a document ends at each EOD in input_ids and the next token starts a new one (the same
// convention as packed documents). When reset_attention_mask or reset_position_ids is on an EOD id
// is required.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "data/formats/cerebras_hdf5.h"
#include "data/sample_dataset.h"

namespace kiln {

struct RowRange {
  uint64_t begin = 0, end = 0;  // rows [begin, end)
};

class CerebrasRows final : public SampleDataset {
 public:
  // Throws DataFormatError when the file's MSL differs from seq, the range is empty, or document
  // masking is asked for without an EOD id.
  CerebrasRows(const std::filesystem::path& path, RowRange rows, int seq, int64_t vocab_size,
               DocumentMasking masking, std::optional<int64_t> eod_token_id, std::string split_label);

  uint64_t size() const override { return rows_.end - rows_.begin; }
  uint64_t tokens() const override { return size() * static_cast<uint64_t>(seq_); }
  void read(uint64_t k, const SampleRow& row) const override;
  std::string describe() const override;

  static uint64_t count_rows(const std::filesystem::path& path);

 private:
  mutable std::mutex mutex_;                 // CerebrasSamples keeps a read cache
  std::unique_ptr<CerebrasSamples> samples_;
  RowRange rows_;
  int seq_;
  int64_t vocab_size_;
  DocumentMasking masking_;
  int32_t eod_;  // −1: none
  std::string split_label_;
  mutable std::vector<int32_t> mask_scratch_;
};

}  // namespace kiln
