// config.json ↔ kiln's model section: what maps, and what is refused by name.
#include "hf/hf_config.h"

#include <gtest/gtest.h>

#include "hf_test_support.h"
#include "support/error_text.h"

namespace kiln::hf {
namespace {

using kiln::testing::contains;
using kiln::testing::error_of;
using namespace kiln::hf::testing;

const char* const kStableLm = R"(model:
  num_layers: 2
  hidden_size: 64
  num_heads: 4
  vocab_size: 500
  seq_length: 128
  max_position_embeddings: 256
train: {steps: 1}
)";

Config with(const std::string& extra) {
  return config_from_yaml(std::string(kStableLm).replace(std::string(kStableLm).find("train:"), 0, extra));
}

TEST(HfConfigExport, StableLmKeys) {
  const Config c = with("  qkv_bias: true\n  rotary_pct: 0.25\n");
  const auto j = hf_config_json(c.model, {"float32", 0, 0});
  EXPECT_EQ(j["architectures"][0], "StableLmForCausalLM");
  EXPECT_EQ(j["model_type"], "stablelm");
  EXPECT_EQ(j["vocab_size"], c.model.padded_vocab());  // 512: padded rows are exported
  EXPECT_EQ(j["intermediate_size"], c.model.ffn());
  EXPECT_EQ(j["max_position_embeddings"], 256);
  EXPECT_EQ(j["partial_rotary_factor"], 0.25);
  EXPECT_EQ(j["rope_parameters"]["partial_rotary_factor"], 0.25);
  EXPECT_EQ(j["use_qkv_bias"], true);
  EXPECT_EQ(j["hidden_act"], "silu");
  EXPECT_EQ(j["torch_dtype"], "float32");
  EXPECT_EQ(j["eos_token_id"], 0);
}

TEST(HfConfigExport, LlamaWhenExactlyLlama) {
  const Config c = with("  norm: rmsnorm\n  rotary_pct: 1.0\n");
  EXPECT_EQ(hf_arch_for(c.model), HfArch::llama);
  const auto j = hf_config_json(c.model);
  EXPECT_EQ(j["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(j["head_dim"], 16);
  EXPECT_EQ(j["attention_bias"], false);
}

TEST(HfConfigExport, UnrepresentableArchitecturesAreRefusedByName) {
  const std::string e = error_of([&] {
    hf_arch_for(with("  positions: alibi\n  activation: gelu\n  linear_bias: true\n  mup: {enabled: true}\n").model);
  });
  EXPECT_TRUE(contains(e, "model.positions: alibi"));
  EXPECT_TRUE(contains(e, "model.activation: gelu"));
  EXPECT_TRUE(contains(e, "model.linear_bias"));
  EXPECT_TRUE(contains(e, "model.mup.enabled"));

  const std::string llama = error_of([&] { hf_arch_for(with("  norm: rmsnorm\n  qkv_bias: true\n  parallel_residual: true\n").model); });
  EXPECT_TRUE(contains(llama, "model.rotary_pct: 0.25 with model.norm: rmsnorm"));
  EXPECT_TRUE(contains(llama, "model.qkv_bias"));
  EXPECT_TRUE(contains(llama, "model.parallel_residual"));
}

nlohmann::json stablelm_json() {
  return nlohmann::json::parse(R"({"architectures": ["StableLmForCausalLM"], "model_type": "stablelm",
    "vocab_size": 100352, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 24,
    "num_attention_heads": 32, "num_key_value_heads": 32, "hidden_act": "silu", "max_position_embeddings": 4096,
    "layer_norm_eps": 1e-05, "rope_theta": 10000, "partial_rotary_factor": 0.25, "use_qkv_bias": true,
    "use_parallel_residual": false, "tie_word_embeddings": false, "qk_layernorm": false, "rope_scaling": null,
    "hidden_dropout": 0.0, "attention_dropout": 0.0, "initializer_range": 0.02, "bos_token_id": 100257,
    "eos_token_id": 100257, "torch_dtype": "bfloat16", "transformers_version": "4.40.0", "use_cache": true})");
}

TEST(HfConfigImport, StableLm2Keys) {
  const HfImportedConfig m = model_from_hf_config(stablelm_json(), "config.json");
  EXPECT_EQ(m.arch, HfArch::stablelm);
  EXPECT_EQ(m.model["num_layers"].as<int64_t>(), 24);
  EXPECT_EQ(m.model["ffn_hidden_size"].as<int64_t>(), 5632);
  EXPECT_EQ(m.model["vocab_size"].as<int64_t>(), 100352);
  EXPECT_EQ(m.model["vocab_pad_multiple"].as<int64_t>(), 128);  // 100352 = 128·784: no rows added
  EXPECT_EQ(m.model["rotary_pct"].as<double>(), 0.25);
  EXPECT_EQ(m.model["norm"].as<std::string>(), "layernorm");
  EXPECT_TRUE(m.model["qkv_bias"].as<bool>());
  EXPECT_TRUE(m.model["norm_bias"].as<bool>());
}

TEST(HfConfigImport, TransformersFiveRopeParameters) {
  nlohmann::json c = stablelm_json();
  c.erase("rope_theta");
  c.erase("partial_rotary_factor");
  c["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 500.0}, {"partial_rotary_factor", 0.5}};
  const HfImportedConfig m = model_from_hf_config(c, "config.json");
  EXPECT_EQ(m.model["rotary_theta"].as<double>(), 500.0);
  EXPECT_EQ(m.model["rotary_pct"].as<double>(), 0.5);
}

TEST(HfConfigImport, UnsupportedKeysAndValuesAreRefusedByName) {
  nlohmann::json c = stablelm_json();
  c["qk_layernorm"] = true;
  c["num_key_value_heads"] = 8;
  c["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  c["hidden_act"] = "gelu";
  c["hidden_dropout"] = 0.1;
  c["sliding_window"] = 4096;
  const std::string e = error_of([&] { model_from_hf_config(c, "dir/config.json"); });
  EXPECT_TRUE(contains(e, "dir/config.json"));
  EXPECT_TRUE(contains(e, "qk_layernorm: true"));
  EXPECT_TRUE(contains(e, "num_key_value_heads: 8"));
  EXPECT_TRUE(contains(e, "grouped-query attention"));
  EXPECT_TRUE(contains(e, "rope_scaling"));
  EXPECT_TRUE(contains(e, "hidden_act: \"gelu\""));
  EXPECT_TRUE(contains(e, "hidden_dropout"));
  EXPECT_TRUE(contains(e, "sliding_window: 4096"));

  nlohmann::json neox = stablelm_json();
  neox["model_type"] = "gpt_neox";
  EXPECT_TRUE(contains(error_of([&] { model_from_hf_config(neox, "config.json"); }), "model_type 'gpt_neox' is not supported"));

  nlohmann::json missing = stablelm_json();
  missing.erase("hidden_size");
  EXPECT_TRUE(contains(error_of([&] { model_from_hf_config(missing, "config.json"); }), "hidden_size: missing"));
}

TEST(HfConfigImport, LlamaRefusesBiasesAndPartialRotary) {
  const nlohmann::json c = nlohmann::json::parse(R"({"model_type": "llama", "vocab_size": 32000, "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "attention_bias": true,
    "partial_rotary_factor": 0.5, "head_dim": 32})");
  const std::string e = error_of([&] { model_from_hf_config(c, "config.json"); });
  EXPECT_TRUE(contains(e, "attention_bias: true"));
  EXPECT_TRUE(contains(e, "partial_rotary_factor: 0.5"));
  EXPECT_TRUE(contains(e, "head_dim: 32"));
}

TEST(HfConfigRoundTrip, ExportThenImportGivesTheSameModelSection) {
  for (const char* extra : {"  qkv_bias: true\n  parallel_residual: true\n", "  norm: rmsnorm\n  rotary_pct: 1.0\n  tied_embeddings: true\n"}) {
    const Config c = with(extra);
    const HfImportedConfig m = model_from_hf_config(nlohmann::json::parse(hf_config_json(c.model).dump()), "config.json");
    YAML::Node root;
    root["model"] = m.model;
    root["train"]["steps"] = 1;
    const ModelConfig back = load_config_tree(root, "x").config.model;
    EXPECT_EQ(back.num_layers, c.model.num_layers);
    EXPECT_EQ(back.padded_vocab(), c.model.padded_vocab());
    EXPECT_EQ(back.ffn(), c.model.ffn());
    EXPECT_EQ(back.norm, c.model.norm);
    EXPECT_EQ(back.norm_eps, c.model.norm_eps);
    EXPECT_EQ(back.rotary_dims(), c.model.rotary_dims());
    EXPECT_EQ(back.qkv_bias, c.model.qkv_bias);
    EXPECT_EQ(back.parallel_residual, c.model.parallel_residual);
    EXPECT_EQ(back.tied_embeddings, c.model.tied_embeddings);
    EXPECT_EQ(back.max_position_embeddings, c.model.max_position_embeddings);
  }
}

}  // namespace
}  // namespace kiln::hf
