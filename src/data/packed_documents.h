// GPT-NeoX-style samples from a document store: the documents of a range, concatenated in file
// order and cut into consecutive windows of seq + 1 tokens that overlap by one token (the last
// target of window k is the first input of window k + 1), so every token but the very first is
// a target exactly once per epoch.
//
// With N tokens in the range an epoch has floor((N − 1) / seq) samples; sample k covers tokens
// [k·seq, k·seq + seq] of the range. Windows cross document boundaries (packing, no padding:
// loss_mask is 1 everywhere); the boundaries come from the store's document index, not from an
// end-of-document token, so data tokenized without one still masks correctly. A document's
// tokens belong to it up to and including its last token (the EOD kiln-data appends), and the
// next token starts the next document: doc_ids and position_ids follow DocumentMasking
// (sample_dataset.h) the same way the synthetic language does.
//
// Sample order is not this class's business: epochs and shuffling are applied above it.
#pragma once

#include <memory>

#include "data/formats/document_store.h"
#include "data/sample_dataset.h"

namespace kiln {

struct DocumentRange {
  uint64_t begin = 0, end = 0;  // documents [begin, end) of the store
};

class PackedDocuments final : public SampleDataset {
 public:
  // Throws DataFormatError naming the store when the range holds fewer than seq + 1 tokens.
  PackedDocuments(std::shared_ptr<const DocumentStore> store, DocumentRange range, int seq, int64_t vocab_size,
                  DocumentMasking masking, std::string split_label);

  uint64_t size() const override { return samples_; }
  uint64_t tokens() const override { return token_end_ - token_begin_; }
  void read(uint64_t k, const SampleRow& row) const override;
  std::string describe() const override;

 private:
  uint64_t document_at(uint64_t token) const;  // the document holding token (absolute offset)
  [[noreturn]] void bad_token(uint64_t token_offset, int32_t value) const;

  std::shared_ptr<const DocumentStore> store_;
  DocumentRange range_;
  int seq_;
  int64_t vocab_size_;
  DocumentMasking masking_;
  std::string split_label_;
  uint64_t token_begin_, token_end_, samples_;
};

}  // namespace kiln
