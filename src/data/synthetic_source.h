// A deterministic synthetic language for smoke runs, tests and convergence checks without data
// files.
//
// The language. Tokens 0 … V−2 are words and V−1 (V = vocab_size) is the end-of-document token
// (EOD). From the data seed alone kiln draws, once, a sparse first-order Markov chain: every token
// gets `successors` distinct word successors, chosen uniformly, with Zipf weights
// w_k ∝ 1/(k+1) (one likely successor, a few less likely ones). After a word the document ends
// (next token EOD) with probability p = 1/mean_doc_tokens, else the next word is the k-th
// successor with probability (1−p)·w_k; after EOD the next document starts with the k-th
// successor of EOD with probability w_k. Document lengths are therefore geometric with mean
// mean_doc_tokens words (plus one EOD), so nothing about the stream depends on position.
// Train and valid share the chain and differ in the samples drawn from it.
//
// Samples. Sample i is one row of seq tokens, drawn from a random stream keyed by
// (seed, split, i) alone, so it is a pure function of those three. Each row starts in the chain's
// stationary end-of-document rate: with probability p/(1+p) its first token is an EOD (the end of
// a document that is not shown), and the row continues by walking the chain. A row of length T+1
// begins with the row of length T. Rows are packed: there is never padding, so loss_mask is 1
// everywhere; targets[t] is the token after tokens[t] (for the last column, the one the walk
// draws next). The EOD token belongs to the document it ends; the token after it starts the next
// document: doc_ids count documents from 0 within the row when reset_attention_mask (else 0), and
// position_ids count from 0 within each document when reset_position_ids (else 0 … T−1).
//
// Optimal loss. Every word has the same next-token entropy h(p) + (1−p)·H(w) and EOD has H(w),
// where h is the binary entropy and H(w) the entropy of the successor weights. The word/EOD
// pattern is itself a two-state Markov chain, started in its stationary state, so every target
// position has the same expected best-achievable cross-entropy:
//   optimal_loss = π·H(w) + (1−π)·(h(p) + (1−p)·H(w)),  π = p/(1+p),
// in nats per token. No model can beat it in expectation; training curves are read against it.
#pragma once

#include "config/config.h"
#include "data/data_source.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct SyntheticOptions {
  int64_t vocab_size = 0;        // V ≥ successors + 1; EOD is V − 1
  int64_t seq_length = 0;        // T, tokens per sample
  uint64_t seed = 0;             // fixes the chain and, with the split, every sample
  bool reset_attention_mask = false;
  bool reset_position_ids = false;
  int successors = 4;            // likely next words per token
  double mean_doc_tokens = 64;   // mean words per document, ≥ 1

  // The run's shape and data flags; the chain parameters keep their defaults.
  static SyntheticOptions from_config(const ModelConfig& model, const DataConfig& data) {
    SyntheticOptions o;
    o.vocab_size = model.vocab_size;
    o.seq_length = model.seq_length;
    o.seed = static_cast<uint64_t>(data.seed);
    o.reset_attention_mask = data.reset_attention_mask;
    o.reset_position_ids = data.reset_position_ids;
    return o;
  }
};

class SyntheticSource final : public DataSource {
 public:
  // Throws std::invalid_argument naming the offending option.
  SyntheticSource(const SyntheticOptions& options, Split split);

  void fill(BatchStorage& out, uint64_t first_sample) const override;
  void next(BatchStorage& out) override;
  DataState state_at(uint64_t next_sample) const override;
  uint64_t cursor() const override { return cursor_; }
  void restore(const DataState& state) override;
  std::string describe() const override;

  // Expected best cross-entropy per target in nats (see above); the same for every split.
  double optimal_loss() const;
  int32_t eod_token() const { return eod_; }

 private:
  int32_t next_token(int32_t current, uint64_t& rng) const;

  SyntheticOptions opt_;
  Split split_;
  int32_t eod_;
  uint64_t stream_key_;                  // (seed, split) hashed; sample i's stream adds i
  uint64_t fingerprint_;
  double doc_end_p_;                     // p
  double row_starts_with_eod_p_;         // π = p/(1+p)
  std::vector<int32_t> successor_;       // [V, successors]
  std::vector<double> word_cdf_;         // [successors + 1]: EOD, then successors, cumulative
  std::vector<double> eod_cdf_;          // [successors]: cumulative Zipf weights
  uint64_t cursor_ = 0;
};

}  // namespace kiln
