// What the checkpoint tests share: a small model every TP size up to 4 can split, fake ranks whose
// buffers hold a known function of (tensor name, global element index, array), and the check that
// a loaded rank holds exactly that function.
#pragma once

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/checkpoint.h"
#include "config/loader.h"
#include "tensor/bf16.h"

namespace kiln::ckpt_test {

// L=2, d=hidden, H=4, f=24, V=13 padded to 16, with every bias: all sizes divide by 1, 2 and 4.
inline ModelConfig small_model(int hidden = 32) {
  const std::string yaml = "model:\n  num_layers: 2\n  hidden_size: " + std::to_string(hidden) +
                           "\n  num_heads: 4\n  ffn_hidden_size: 24\n  vocab_size: 13\n  vocab_pad_multiple: 8\n"
                           "  seq_length: 5\n  qkv_bias: true\n  linear_bias: true\ntrain:\n  steps: 10\n";
  return load_config_tree(YAML::Load(yaml), "ckpt-test.yml", {}).config.model;
}

// The value of element `g` of global tensor `name` in array `kind` (0 params, 1 masters, 2 m,
// 3 v): a multiple of 1/8 below 16 in magnitude, so exact in bf16 as well as fp32; `salt`
// distinguishes saves.
inline float value_of(const std::string& name, int64_t g, int kind, uint32_t salt = 0) {
  uint32_t h = 2166136261u ^ salt;
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  const uint32_t x = (h + static_cast<uint32_t>(g) * 2654435761u + static_cast<uint32_t>(kind) * 40503u) % 251u;
  return (static_cast<float>(x) - 125.0f) / 8.0f;
}

// A rank's buffers with its RankState pointing at them. sharded: ZeRO-1 shard [r·S, (r+1)·S) of
// the buffer padded to S · dp; otherwise dp rank 0 holds the whole buffer and the others nothing.
struct FakeRank {
  std::unique_ptr<TpLayout> layout;
  std::vector<std::byte> params;
  std::vector<float> masters, m, v;
  RankState state;

  FakeRank(const ModelConfig& model, int tp_rank, int tp_size, int dp_rank, int dp_size, bool sharded, DType dtype)
      : layout(std::make_unique<TpLayout>(model, tp_rank, tp_size)) {
    const int64_t total = layout->registry().total_numel();
    const int64_t shard = (total + dp_size - 1) / dp_size;
    state.layout = layout.get();
    state.tp_rank = tp_rank;
    state.tp_size = tp_size;
    state.dp_rank = dp_rank;
    state.dp_size = dp_size;
    state.param_dtype = dtype;
    if (sharded) {
      state.shard_begin = dp_rank * shard;
      state.shard_end = (dp_rank + 1) * shard;
    } else if (dp_rank == 0) {
      state.shard_end = total;
    }
    const size_t n = static_cast<size_t>(state.shard_end - state.shard_begin);
    params.assign(n * size_of(dtype), std::byte{0});
    masters.assign(n, 0.0f);
    m.assign(n, 0.0f);
    v.assign(n, 0.0f);
    state.params = params;
    state.masters = masters;
    state.m = m;
    state.v = v;
  }

  // Calls fn(position in the shard, tensor name, global element) for every tensor element of the shard.
  template <class F>
  void for_each_element(F&& fn) const {
    const ParamRegistry& reg = layout->registry();
    for (size_t i = 0; i < reg.size(); ++i) {
      const ParamEntry& e = reg.entries()[i];
      for (int64_t l = 0; l < e.numel(); ++l) {
        const int64_t pos = e.offset + l;
        if (pos < state.shard_begin || pos >= state.shard_end) continue;
        fn(static_cast<size_t>(pos - state.shard_begin), e.name, layout->global_element(i, l));
      }
    }
  }

  float param(size_t i) const {
    if (state.param_dtype == DType::fp32) {
      float f;
      std::memcpy(&f, params.data() + i * 4, 4);
      return f;
    }
    bf16 b;
    std::memcpy(&b, params.data() + i * 2, 2);
    return to_float(b);
  }
  void set_param(size_t i, float x) {
    if (state.param_dtype == DType::fp32) {
      std::memcpy(params.data() + i * 4, &x, 4);
    } else {
      const bf16 b = to_bf16(x);
      std::memcpy(params.data() + i * 2, &b, 2);
    }
  }

  void fill(uint32_t salt = 0) {
    for_each_element([&](size_t i, const std::string& name, int64_t g) {
      set_param(i, value_of(name, g, 0, salt));
      masters[i] = value_of(name, g, 1, salt);
      m[i] = value_of(name, g, 2, salt);
      v[i] = value_of(name, g, 3, salt);
    });
  }

  // The number of elements that differ from the function (reporting the first few through `report`).
  template <class R>
  int64_t mismatches(uint32_t salt, bool check_moments, R&& report) const {
    int64_t bad = 0;
    for_each_element([&](size_t i, const std::string& name, int64_t g) {
      const float got[4] = {param(i), masters[i], m[i], v[i]};
      for (int k = 0; k < (check_moments ? 4 : 2); ++k) {
        if (got[k] != value_of(name, g, k, salt)) {
          if (bad++ < 5) report(name, g, k, got[k], value_of(name, g, k, salt));
        }
      }
    });
    return bad;
  }
};

// A fresh directory under the system temporary directory, removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("kiln-ckpt-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline TrainerState trainer_state(int64_t step) {
  TrainerState s;
  s.step = step;
  s.optimizer_steps = step - 1;
  s.data_next_sample = static_cast<uint64_t>(step) * 64;
  s.data_fingerprint = 0xFEEDFACECAFEBEEFull;
  s.data_blend_counts = {3, 1, 4};
  s.config_yaml = "model:\n  hidden_size: 32\n";
  return s;
}

}  // namespace kiln::ckpt_test
