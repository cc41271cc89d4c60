#include "model/param_names.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "model/model_test_util.h"
#include "model/param_layout.h"
#include "plan/planner.h"

namespace kiln {
namespace {

using testing::small_model;

ModelConfig shipped(const std::string& name) {
  return load_config(std::string(KILN_SOURCE_DIR) + "/configs/" + name).config.model;
}

std::vector<int64_t> dims(const ParamEntry& e) { return {e.shape.dims().begin(), e.shape.dims().end()}; }

TEST(ParamNames, TinyConfigHasHuggingFaceNamesAndShapes) {
  const ModelConfig m = shipped("tiny.yml");  // d 64, f 192, V 512, qkv bias, no per-layer norm bias
  const ParamRegistry r = make_param_registry(m);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"model.embed_tokens.weight", {512, 64}},
      {"model.layers.0.input_layernorm.weight", {64}},
      {"model.layers.0.self_attn.q_proj.weight", {64, 64}},
      {"model.layers.0.self_attn.q_proj.bias", {64}},
      {"model.layers.0.self_attn.k_proj.weight", {64, 64}},
      {"model.layers.0.self_attn.k_proj.bias", {64}},
      {"model.layers.0.self_attn.v_proj.weight", {64, 64}},
      {"model.layers.0.self_attn.v_proj.bias", {64}},
      {"model.layers.0.self_attn.o_proj.weight", {64, 64}},
      {"model.layers.0.post_attention_layernorm.weight", {64}},
      {"model.layers.0.mlp.gate_proj.weight", {192, 64}},
      {"model.layers.0.mlp.up_proj.weight", {192, 64}},
      {"model.layers.0.mlp.down_proj.weight", {64, 192}},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(r.entries()[i].name, expected[i].first);
    EXPECT_EQ(dims(r.entries()[i]), expected[i].second) << expected[i].first;
  }
  EXPECT_EQ(r.size(), 1 + 2 * 12 + 2 + 1);  // embedding, 2 layers of 12 tensors, final norm w+b, head
  EXPECT_TRUE(r.contains("model.layers.1.mlp.down_proj.weight"));
  EXPECT_TRUE(r.contains("model.norm.weight"));
  EXPECT_TRUE(r.contains("model.norm.bias"));  // final_norm_bias: true
  EXPECT_FALSE(r.contains("model.layers.0.input_layernorm.bias"));
  EXPECT_FALSE(r.contains("model.layers.0.self_attn.o_proj.bias"));
  EXPECT_EQ(dims(r.at("lm_head.weight")), (std::vector<int64_t>{512, 64}));
}

TEST(ParamNames, OptionalTensorsFollowTheFlags) {
  const ParamRegistry all = make_param_registry(small_model({{"model.linear_bias", "true"},
                                                             {"model.qkv_bias", "true"},
                                                             {"model.tied_embeddings", "true"}}));
  for (const char* n : {"self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.down_proj.bias",
                        "self_attn.q_proj.bias", "input_layernorm.bias", "post_attention_layernorm.bias"})
    EXPECT_TRUE(all.contains(layer_param_name(1, n))) << n;
  EXPECT_EQ(dims(all.at("model.layers.0.mlp.down_proj.bias")), (std::vector<int64_t>{8}));
  EXPECT_EQ(dims(all.at("model.layers.0.mlp.up_proj.bias")), (std::vector<int64_t>{12}));
  EXPECT_FALSE(all.contains("lm_head.weight"));

  // RMSNorm never has a bias; GELU has no gate.
  const ParamRegistry rms = make_param_registry(
      small_model({{"model.norm", "rmsnorm"}, {"model.activation", "gelu"}, {"model.linear_bias", "true"}}));
  EXPECT_FALSE(rms.contains("model.layers.0.input_layernorm.bias"));
  EXPECT_FALSE(rms.contains("model.norm.bias"));
  EXPECT_FALSE(rms.contains("model.layers.0.mlp.gate_proj.weight"));
  EXPECT_FALSE(rms.contains("model.layers.0.mlp.gate_proj.bias"));
  EXPECT_TRUE(rms.contains("model.layers.0.mlp.up_proj.bias"));
}

TEST(ParamNames, CountMatchesThePlannerForEveryShippedConfig) {
  for (const char* name : {"tiny.yml", "stablelm-2-1_6b.yml", "stablelm-3b-4e1t.yml", "btlm-3b-8k.yml",
                           "btlm-3b-8k-stage2.yml", "ar-stablelm-2-1_6b.yml"}) {
    const ModelConfig m = shipped(name);
    EXPECT_EQ(make_param_registry(m).param_count(), count_parameters(m).total) << name;
  }
  EXPECT_EQ(make_param_registry(shipped("stablelm-3b-4e1t.yml")).param_count(), 2'795'443'200);  // SPEC §1
}

TEST(ParamNames, CountMatchesThePlannerForVariants) {
  const std::vector<std::vector<Override>> variants = {
      {},
      {{"model.tied_embeddings", "true"}, {"model.linear_bias", "true"}},
      {{"model.norm", "rmsnorm"}, {"model.activation", "gelu"}, {"model.qkv_bias", "true"}},
      {{"model.norm_bias", "false"}, {"model.final_norm_bias", "true"}},
  };
  for (const auto& v : variants) {
    const ModelConfig m = small_model(v);
    EXPECT_EQ(make_param_registry(m).param_count(), count_parameters(m).total);
  }
}

TEST(ParamNames, OptimizerGroupsFollowSpecSection3) {
  const ModelConfig m = small_model({{"model.mup.enabled", "true"},
                                     {"model.mup.base_hidden_size", "2"},
                                     {"model.linear_bias", "true"},
                                     {"model.qkv_bias", "true"}});
  ASSERT_DOUBLE_EQ(m.mup_width_scale(), 0.25);
  const ParamRegistry r = make_param_registry(m);
  for (const ParamEntry& e : r) {
    const ParamRole role = param_role(e.name);
    const bool hidden = role == ParamRole::hidden || role == ParamRole::hidden_out;
    const bool no_decay = role == ParamRole::bias || role == ParamRole::norm_weight || role == ParamRole::norm_bias;
    EXPECT_EQ(e.info.lr_scale, hidden ? 0.25 : 1.0) << e.name;
    EXPECT_EQ(e.info.decay, !no_decay) << e.name;
  }
  EXPECT_EQ(param_role("model.layers.0.self_attn.o_proj.weight"), ParamRole::hidden_out);
  EXPECT_EQ(param_role("model.layers.0.mlp.down_proj.weight"), ParamRole::hidden_out);
  EXPECT_EQ(param_role("model.layers.0.mlp.gate_proj.weight"), ParamRole::hidden);
  EXPECT_EQ(param_role("model.embed_tokens.weight"), ParamRole::embedding);
  EXPECT_THROW(param_role("model.layers.0.mystery.weight"), std::invalid_argument);

  for (const ParamEntry& e : make_param_registry(small_model())) EXPECT_EQ(e.info.lr_scale, 1.0) << e.name;
}

TEST(ParamLayout, OffsetsMatchTheRegistryAndAbsentTensorsAreMinusOne) {
  const ModelConfig m = small_model({{"model.tied_embeddings", "true"}});
  const ParamRegistry r = make_param_registry(m);
  const ModelParamOffsets o = resolve_param_offsets(r, m);
  EXPECT_EQ(o.embed, r.at("model.embed_tokens.weight").offset);
  EXPECT_EQ(o.lm_head, -1);
  ASSERT_EQ(o.layers.size(), 2u);
  EXPECT_EQ(o.layers[1].down_w, r.at("model.layers.1.mlp.down_proj.weight").offset);
  EXPECT_EQ(o.layers[1].q_b, -1);
  EXPECT_EQ(o.layers[0].ln1_b, r.at("model.layers.0.input_layernorm.bias").offset);
  const std::vector<float> buffer(static_cast<size_t>(r.total_numel()));
  const LayerTensors<const float*> t = bind_layer(o.layers[0], buffer.data());
  EXPECT_EQ(t.o_b, nullptr);
  EXPECT_EQ(t.q_w, buffer.data() + r.at("model.layers.0.self_attn.q_proj.weight").offset);
}

}  // namespace
}  // namespace kiln
