// Shared helpers of the model tests: small configs built through the real loader (so derived
// fields are filled and the config is validated), and small batches.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/loader.h"
#include "data/batch.h"
#include "model/decoder.h"

namespace kiln::testing {

// The tiny test model: L=2, d=8, H=2 (D=4), f=12, V=13 padded to 16, T=5; `overrides` as --set.
inline ModelConfig small_model(const std::vector<Override>& overrides = {}) {
  const char* yaml = R"(
model:
  num_layers: 2
  hidden_size: 8
  num_heads: 2
  ffn_hidden_size: 12
  vocab_size: 13
  vocab_pad_multiple: 8
  seq_length: 5
  rotary_pct: 0.5
train:
  steps: 10
)";
  return load_config_tree(YAML::Load(yaml), "small.yml", overrides).config.model;
}

// A B×T batch with deterministic tokens and targets in [0, vocab), a few masked targets, and,
// with `documents`, packed rows: row 1 holds two documents with positions restarting at 0.
struct TestBatch {
  BatchStorage storage;
  TestBatch(int B, int T, int vocab, uint32_t seed, bool documents) : storage(B, T) {
    uint32_t state = seed;
    auto next = [&] {
      state = state * 1664525u + 1013904223u;  // an LCG is plenty for test tokens
      return static_cast<int32_t>((state >> 8) % static_cast<uint32_t>(vocab));
    };
    for (int b = 0; b < B; ++b) {
      for (int t = 0; t < T; ++t) {
        const size_t n = static_cast<size_t>(b * T + t);
        storage.tokens[n] = next();
        storage.targets[n] = next();
        storage.loss_mask[n] = (n % 4 == 3) ? 0.0f : 1.0f;  // some tokens do not count
        const int doc_start = (documents && b % 2 == 1) ? 2 : 0;
        const bool second_doc = documents && b % 2 == 1 && t >= doc_start;
        storage.doc_ids[n] = second_doc ? 1 : 0;
        storage.position_ids[n] = second_doc ? t - doc_start : t;
      }
    }
  }
  BatchView view() const { return storage.view(); }
};

}  // namespace kiln::testing
