#include "data/cerebras_rows.h"

#include <sstream>

namespace kiln {

CerebrasRows::CerebrasRows(const std::filesystem::path& path, RowRange rows, int seq, int64_t vocab_size,
                           DocumentMasking masking, std::optional<int64_t> eod_token_id, std::string split_label)
    : samples_(std::make_unique<CerebrasSamples>(path)), rows_(rows), seq_(seq), vocab_size_(vocab_size),
      masking_(masking), eod_(eod_token_id ? static_cast<int32_t>(*eod_token_id) : -1),
      split_label_(std::move(split_label)), mask_scratch_(static_cast<size_t>(seq)) {
  if (samples_->max_seq_length() != static_cast<uint64_t>(seq))
    throw DataFormatError(path.string() + ": rows of " + std::to_string(samples_->max_seq_length()) +
                          " tokens (the file's MSL), but model.seq_length is " + std::to_string(seq) +
                          "; Cerebras rows are used as they are, so the two must match");
  if (rows_.end <= rows_.begin || rows_.end > samples_->num_samples())
    throw DataFormatError(path.string() + ": the " + split_label_ + " split holds rows " + std::to_string(rows_.begin) +
                          " to " + std::to_string(rows_.end) + " of " + std::to_string(samples_->num_samples()) +
                          ", no sample");
  if ((masking.reset_attention_mask || masking.reset_position_ids) && eod_ < 0)
    throw DataFormatError(path.string() + ": a Cerebras file has no document index, so data.reset_attention_mask "
                          "and data.reset_position_ids need the end-of-document id (data.eod_token_id or "
                          "data.tokenizer)");
}

uint64_t CerebrasRows::count_rows(const std::filesystem::path& path) { return CerebrasSamples(path).num_samples(); }

void CerebrasRows::read(uint64_t k, const SampleRow& row) const {
  const size_t t_len = static_cast<size_t>(seq_);
  const uint64_t file_row = rows_.begin + k;
  {
    std::lock_guard lock(mutex_);
    samples_->read_sample(file_row, {row.tokens, t_len}, {row.targets, t_len}, mask_scratch_);
  }
  int32_t doc = 0, position = 0;
  for (size_t t = 0; t < t_len; ++t) {
    for (const int32_t v : {row.tokens[t], row.targets[t]})
      if (v < 0 || v >= vocab_size_) {
        std::ostringstream m;
        m << samples_->path() << ": row " << file_row << ", column " << t << " holds token " << v
          << ", outside the model's vocabulary [0, " << vocab_size_ << ")";
        throw DataFormatError(m.str());
      }
    row.loss_mask[t] = mask_scratch_[t] != 0 ? 1.0f : 0.0f;
    row.doc_ids[t] = masking_.reset_attention_mask ? doc : 0;
    row.position_ids[t] = masking_.reset_position_ids ? position : static_cast<int32_t>(t);
    ++position;
    if (row.tokens[t] == eod_) {  // the EOD ends its document; the next token starts one
      ++doc;
      position = 0;
    }
  }
}

std::string CerebrasRows::describe() const {
  std::ostringstream s;
  s << samples_->path() << " [cerebras, " << split_label_ << ": rows " << rows_.begin << "–" << rows_.end << "]";
  return s.str();
}

}  // namespace kiln
