#include "data/packed_documents.h"

#include <algorithm>
#include <span>
#include <sstream>

namespace kiln {

PackedDocuments::PackedDocuments(std::shared_ptr<const DocumentStore> store, DocumentRange range, int seq,
                                 int64_t vocab_size, DocumentMasking masking, std::string split_label)
    : store_(std::move(store)), range_(range), seq_(seq), vocab_size_(vocab_size), masking_(masking),
      split_label_(std::move(split_label)) {
  token_begin_ = store_->doc_offset(range_.begin);
  token_end_ = store_->doc_offset(range_.end);
  const uint64_t n = token_end_ - token_begin_;
  samples_ = n == 0 ? 0 : (n - 1) / static_cast<uint64_t>(seq_);
  if (samples_ == 0) {
    std::ostringstream m;
    m << store_->path() << ": the " << split_label_ << " split (documents " << range_.begin << " to " << range_.end
      << ") holds " << n << " tokens, fewer than one sample of seq_length + 1 = " << seq_ + 1 << " tokens";
    throw DataFormatError(m.str());
  }
}

uint64_t PackedDocuments::document_at(uint64_t token) const {
  // The last document starting at or before `token`; empty documents share their offset with the
  // next one, and taking the last of them lands on the one that holds the token.
  uint64_t lo = range_.begin, hi = range_.end;  // invariant: doc_offset(lo) ≤ token < doc_offset(hi)
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (store_->doc_offset(mid) <= token) lo = mid;
    else hi = mid;
  }
  return lo;
}

void PackedDocuments::bad_token(uint64_t token_offset, int32_t value) const {
  const uint64_t doc = document_at(token_offset);
  std::ostringstream m;
  m << store_->path() << ": token " << value << " at token offset " << token_offset << " (document " << doc
    << ", position " << token_offset - store_->doc_offset(doc) << ") is outside the model's vocabulary [0, "
    << vocab_size_ << "); the shard was made with another tokenizer, or model.vocab_size is wrong "
    << "(kiln-data verify lists every such token)";
  throw DataFormatError(m.str());
}

void PackedDocuments::read(uint64_t k, const SampleRow& row) const {
  const size_t t_len = static_cast<size_t>(seq_);
  const uint64_t start = token_begin_ + k * t_len;
  // Inputs are tokens [start, start + seq); targets the same shifted by one, so only the last
  // target needs a read of its own.
  store_->read_tokens(start, std::span<int32_t>(row.tokens, t_len));
  std::copy(row.tokens + 1, row.tokens + t_len, row.targets);
  store_->read_tokens(start + t_len, std::span<int32_t>(row.targets + t_len - 1, 1));
  const auto limit = static_cast<uint64_t>(vocab_size_);
  for (size_t t = 0; t < t_len; ++t)
    if (static_cast<uint64_t>(static_cast<uint32_t>(row.tokens[t])) >= limit) bad_token(start + t, row.tokens[t]);
  if (static_cast<uint64_t>(static_cast<uint32_t>(row.targets[t_len - 1])) >= limit)
    bad_token(start + t_len, row.targets[t_len - 1]);

  uint64_t doc = document_at(start);
  uint64_t next_doc_start = store_->doc_offset(doc + 1);
  int32_t doc_in_row = 0, position = 0;
  for (size_t t = 0; t < t_len; ++t) {
    const uint64_t g = start + t;
    if (g >= next_doc_start) {  // a document starts here (skipping any empty ones)
      while (store_->doc_offset(doc + 1) <= g) ++doc;
      next_doc_start = store_->doc_offset(doc + 1);
      ++doc_in_row;
      position = 0;
    }
    row.loss_mask[t] = 1.0f;
    row.doc_ids[t] = masking_.reset_attention_mask ? doc_in_row : 0;
    row.position_ids[t] = masking_.reset_position_ids ? position : static_cast<int32_t>(t);
    ++position;
  }
}

std::string PackedDocuments::describe() const {
  std::ostringstream s;
  s << store_->path() << " [" << split_label_ << ": documents " << range_.begin << "–" << range_.end << ", "
    << tokens() << " tokens, " << samples_ << " samples per epoch]";
  return s.str();
}

}  // namespace kiln
