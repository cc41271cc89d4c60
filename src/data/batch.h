// One micro batch of token sequences, as the model consumes it.
//
// Every array is [batch, seq] row-major on the host, owned by whoever produced the batch (a data
// source fills preallocated storage; nothing is allocated per step). Packed sequences carry their
// document structure explicitly, so the model needs no knowledge of the end-of-document token:
//   position_ids restart at 0 at each document start when reset_position_ids is on, else 0..seq-1;
//   doc_ids number the documents inside each row (attention never crosses them) when
//   reset_attention_mask is on, else all zero.
#pragma once

#include <cstdint>
#include <vector>

namespace kiln {

struct BatchView {
  int batch = 0;                       // sequences (B)
  int seq = 0;                         // tokens per sequence (T)
  const int32_t* tokens = nullptr;     // inputs
  const int32_t* targets = nullptr;    // next tokens; ignored where loss_mask is 0
  const float* loss_mask = nullptr;    // 1 where the target counts, 0 elsewhere
  const int32_t* position_ids = nullptr;
  const int32_t* doc_ids = nullptr;

  int64_t tokens_count() const { return static_cast<int64_t>(batch) * seq; }
};

// Owning storage for one micro batch, allocated once at start-up.
struct BatchStorage {
  int batch = 0, seq = 0;
  std::vector<int32_t> tokens, targets, position_ids, doc_ids;
  std::vector<float> loss_mask;

  BatchStorage(int b, int t)
      : batch(b), seq(t), tokens(size_t(b) * t), targets(size_t(b) * t), position_ids(size_t(b) * t),
        doc_ids(size_t(b) * t), loss_mask(size_t(b) * t) {}

  // documents: whether doc_ids carry document structure (data.reset_attention_mask). Without it
  // the view has doc_ids = nullptr, so attention takes its plain causal path instead of comparing
  // ids that are all zero (the same result, more work on the GPU).
  BatchView view(bool documents = true) const {
    return {batch, seq, tokens.data(), targets.data(), loss_mask.data(), position_ids.data(),
            documents ? doc_ids.data() : nullptr};
  }
};

}  // namespace kiln
