// What the tensor-parallel tests share: the TP group that tp_test_main.cpp sets up (every rank of
// the job in one group, dp = 1), and small models that np ∈ {1, 2, 4} ranks can split.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "config/loader.h"
#include "dist/communicator.h"

namespace kiln::tp_test {

Communicator& tp_group();  // all ranks of the job
Communicator& world();

// L=2, d=32, H=4 (D=8, rotary on 4 of 8 dims), f=24, V=13 padded to 16, T=5: every size divides
// by 4. `overrides` as --set.
inline ModelConfig tp_model(const std::vector<Override>& overrides = {}) {
  const char* yaml = R"(
model:
  num_layers: 2
  hidden_size: 32
  num_heads: 4
  ffn_hidden_size: 24
  vocab_size: 13
  vocab_pad_multiple: 8
  seq_length: 5
  rotary_pct: 0.5
train:
  steps: 10
)";
  return load_config_tree(YAML::Load(yaml), "tp.yml", overrides).config.model;
}

// max_i |a[i] − b[i]|.
template <class A, class B>
double max_abs_diff(const A& a, const B& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  return m;
}

template <class A>
double max_abs(const A& a) {
  double m = 0;
  for (auto x : a) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

}  // namespace kiln::tp_test
