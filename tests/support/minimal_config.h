// The smallest valid config: the required keys only. Tests append sections or override keys.
#pragma once

namespace kiln::testing {

// Line numbers matter to tests that check error locations: model keys are on lines 2–6,
// train.steps on line 8, and appended text starts on line 9.
inline constexpr const char* kMinimalConfig = R"(model:
  num_layers: 2
  hidden_size: 64
  num_heads: 4
  vocab_size: 500
  seq_length: 128
train:
  steps: 100
)";

}  // namespace kiln::testing
