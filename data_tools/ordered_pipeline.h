// Parallel encoding of documents with output in input order.
//
// Shape: one producer thread fills batches of texts from the input; `threads` workers encode
// whole batches; the calling thread consumes the encoded batches strictly in the order they were
// produced. So whatever the number of threads, the consumer sees exactly the same sequence of
// documents and tokens, and a writer fed by it produces byte-identical files.
//
// Memory is bounded: at most `max_in_flight` batches exist at once (produced but not yet
// consumed), so a slow writer stalls the reader instead of filling memory.
//
// Errors are ordered too. An exception from the producer or from encoding a batch travels in
// that batch's place and is rethrown on the calling thread when the consumer reaches it, after
// every earlier batch was consumed: the error reported is always the first in input order, the
// same for any thread count. An exception from the consumer stops everything at once. Either
// way all threads are joined before run_ordered_pipeline returns or throws.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::data_tools {

struct TextBatch {
  std::vector<std::string> texts;
  std::vector<std::string> origins;  // "FILE:LINE" per text (or empty): prefixed to encoding errors
  uint64_t input_bytes = 0;          // input consumed up to the end of this batch, for progress
  uint64_t text_bytes = 0;           // Σ texts[i].size()
};

struct TokenBatch {
  std::vector<int32_t> tokens;     // all documents of the batch back to back
  std::vector<uint64_t> doc_ends;  // document i is tokens[doc_ends[i−1], doc_ends[i]) (doc_ends[−1] = 0)
  uint64_t input_bytes = 0;        // copied from the TextBatch
  uint64_t text_bytes = 0;
  size_t documents() const { return doc_ends.size(); }
};

// Fills `batch` (given empty) with the next texts; returns false, leaving it empty, at the end.
using ProduceFn = std::function<bool(TextBatch& batch)>;
// Appends the tokens of one text to `out`. Called from several threads at once.
using EncodeFn = std::function<void(std::string_view text, std::vector<int32_t>& out)>;
// Receives the encoded batches in production order, on the calling thread.
using ConsumeFn = std::function<void(TokenBatch&& batch)>;

struct PipelineOptions {
  int threads = 1;           // encoding workers, ≥ 1
  size_t max_in_flight = 0;  // 0: 2 × threads + 2
};

void run_ordered_pipeline(const PipelineOptions& options, const ProduceFn& produce, const EncodeFn& encode,
                          const ConsumeFn& consume);

}  // namespace kiln::data_tools
