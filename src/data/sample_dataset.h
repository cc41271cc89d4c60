// One dataset of fixed-length training samples: what the blend draws from.
//
// A SampleDataset is one epoch of `size()` samples, each a row of seq tokens with its targets
// (the next tokens), loss mask and document structure (batch.h). Sample k of an epoch is a pure
// function of k; the order epochs visit the samples in, and which dataset a global sample comes
// from, are decided above it (blended_source.h). Implementations:
//   PackedDocuments (packed_documents.h)  documents of a DocumentStore concatenated and cut into
//                                         windows of seq + 1 tokens (GPT-NeoX's GPT2Dataset)
//   CerebrasRows (cerebras_rows.h)        the rows of a Cerebras [N, 3, MSL] HDF5 file
// read() checks every token against the vocabulary and throws DataFormatError naming the file and
// position of an out-of-range token: a bad shard stops the run instead of indexing past the
// embedding. Readers are used by one thread at a time (the prefetch thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln {

// One row of a BatchStorage, [seq] each.
struct SampleRow {
  int32_t* tokens;
  int32_t* targets;
  float* loss_mask;
  int32_t* position_ids;
  int32_t* doc_ids;
};

// How document structure shows in a row (data.reset_attention_mask, data.reset_position_ids).
struct DocumentMasking {
  bool reset_attention_mask = false;  // doc_ids count documents within the row, else all 0
  bool reset_position_ids = false;    // positions restart at each document start, else 0 … seq−1
};

class SampleDataset {
 public:
  virtual ~SampleDataset() = default;
  virtual uint64_t size() const = 0;      // samples per epoch, ≥ 1
  virtual uint64_t tokens() const = 0;    // tokens one epoch covers (for size-proportional weights)
  // Writes sample k ∈ [0, size()) into row.
  virtual void read(uint64_t k, const SampleRow& row) const = 0;
  // One line for logs and messages: file, split range, samples.
  virtual std::string describe() const = 0;
};

}  // namespace kiln
