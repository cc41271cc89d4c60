// ProfiledOps (ops/profiled_ops.h) changes no result and counts every op: a decoder on
// ProfiledOps<float> over CpuOps gives the same bits as on CpuOps, and the profile has one entry
// per op name (per shape for GEMMs) with the number of calls the model makes.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <vector>

#include "model/decoder.h"
#include "model/model_test_util.h"
#include "ops/cpu_ops.h"
#include "ops/profiled_ops.h"
#include "support/grad_check.h"

namespace kiln {
namespace {

using testing::small_model;
using testing::TestBatch;

TEST(ProfiledOps, ChangesNoResultAndCountsEveryCall) {
  const ModelConfig m = small_model({});  // 2 layers, SwiGLU, rotary, untied
  auto profiled_ops = std::make_unique<ProfiledOps<float>>(std::make_unique<CpuOps<float>>(),
                                                           std::make_unique<HostOpTimer>());
  ProfiledOps<float>* profiled = profiled_ops.get();
  Decoder<float> plain(m, 2, 5), timed(m, 2, 5, std::move(profiled_ops));
  const int64_t n = plain.registry().total_numel();
  const std::vector<double> p = kiln::testing::random_vector(static_cast<size_t>(n), 5, -0.3, 0.3);
  const std::vector<float> params(p.begin(), p.end());
  const TestBatch batch(2, 5, static_cast<int>(m.vocab_size), 3, true);
  std::vector<float> g1(params.size(), 0.0f), g2(params.size(), 0.0f);
  EXPECT_EQ(timed.forward(params.data(), batch.view(), 0.1f), plain.forward(params.data(), batch.view(), 0.1f));
  plain.backward(params.data(), g1.data());
  timed.backward(params.data(), g2.data());
  EXPECT_EQ(g2, g1);

  std::map<std::string, int64_t> calls;
  double seconds = 0;
  for (const OpTime& t : profiled->profile()) {
    calls[t.label] = t.calls;
    EXPECT_GE(t.seconds, 0.0) << t.label;
    seconds += t.seconds;
  }
  EXPECT_GT(seconds, 0.0);
  const int L = static_cast<int>(m.num_layers);
  EXPECT_EQ(calls["attention_forward"], L);
  EXPECT_EQ(calls["attention_backward"], L);
  EXPECT_EQ(calls["softmax_cross_entropy"], 1);
  EXPECT_EQ(calls["embedding_forward"], 1);
  EXPECT_EQ(calls["embedding_backward"], 1);
  // N = 10 tokens; per layer Q, K, V (C → C) and o_proj (C → C), the LM head C → V.
  const int C = static_cast<int>(m.hidden_size), V = static_cast<int>(m.padded_vocab());
  const std::string qkvo = "linear_forward 10x" + std::to_string(C) + "->" + std::to_string(C);
  EXPECT_EQ(calls[qkvo], 4 * L) << qkvo;
  EXPECT_EQ(calls["linear_forward 10x" + std::to_string(C) + "->" + std::to_string(V)], 1);
  EXPECT_EQ(calls["linear_backward 10x" + std::to_string(C) + "->" + std::to_string(V)], 1);
  EXPECT_NE(format_op_profile(profiled->profile()).find("attention_forward"), std::string::npos);
}

}  // namespace
}  // namespace kiln
