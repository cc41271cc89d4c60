// Logits parity with transformers and exact round trips:
//   - each fixture (a random transformers model, tests/fixtures/hf/make_fixtures.py) imported into
//     kiln gives transformers' logits;
//   - HF → kiln → HF gives back every tensor bit for bit, through the model API and through a
//     kiln checkpoint (import-hf / export-hf);
//   - a kiln-native model exported and loaded by transformers gives kiln's logits (when
//     transformers is installed);
//   - broken directories are refused naming the tensor or key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "ckpt/checkpoint.h"
#include "hf/hf_checkpoint.h"
#include "hf/hf_model.h"
#include "hf/safetensors.h"
#include "hf_test_support.h"
#include "model/init.h"
#include "model/param_names.h"
#include "support/error_text.h"
#include "support/temp_dir.h"

namespace kiln::hf {
namespace {

using kiln::testing::contains;
using kiln::testing::error_of;
using kiln::testing::TempDir;
using namespace kiln::hf::testing;

const char* const kFixtures[] = {"stablelm_partial", "stablelm_parallel", "llama"};

// Every tensor of two model directories, as fp32, bit for bit.
void expect_same_tensors(const std::filesystem::path& a, const std::filesystem::path& b) {
  const SafetensorsDir x(a), y(b);
  ASSERT_EQ(x.names(), y.names()) << a << " vs " << b;
  for (const std::string& name : x.names()) {
    const SafetensorInfo& t = x.info(name);
    ASSERT_EQ(t.shape, y.info(name).shape) << name;
    std::vector<float> u(static_cast<size_t>(t.numel())), v(u.size());
    x.read_f32(name, t.shape, u);
    y.read_f32(name, t.shape, v);
    EXPECT_EQ(std::memcmp(u.data(), v.data(), u.size() * 4), 0) << name << " differs";
  }
}

class HfFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(HfFixture, ImportedModelReproducesTransformersLogits) {
  const auto dir = fixture_dir(GetParam());
  const HfModel model = read_hf_model(dir);
  const LogitsFixture ref = read_logits(dir / "logits.json");
  ASSERT_EQ(model.config.model.padded_vocab(), ref.vocab);  // no rows added on import
  const std::vector<float> got = kiln_logits(model.config.model, model.params, ref.tokens, ref.batch, ref.seq);
  EXPECT_TRUE(logits_close(got, ref.logits, 1e-4));
}

TEST_P(HfFixture, ExportAfterImportGivesBackEveryTensorExactly) {
  TempDir tmp;
  const auto dir = fixture_dir(GetParam());
  const HfModel model = read_hf_model(dir);
  write_hf_model(model.config, model.params.data(), tmp.path() / "out", {"fp32", 0});
  expect_same_tensors(dir, tmp.path() / "out");
  // And the config says the same: importing the export gives the same kiln model.
  const HfModel again = read_hf_model(tmp.path() / "out");
  EXPECT_EQ(again.params, model.params);
  EXPECT_EQ(again.arch, model.arch);
  EXPECT_EQ(again.config.model.rotary_dims(), model.config.model.rotary_dims());
  EXPECT_EQ(again.config.model.parallel_residual, model.config.model.parallel_residual);
  EXPECT_EQ(again.config.model.tied_embeddings, model.config.model.tied_embeddings);
  EXPECT_EQ(again.config.model.rotary_theta, model.config.model.rotary_theta);
}

TEST_P(HfFixture, CheckpointRoundTripThroughImportAndExportIsExact) {
  TempDir tmp;
  const auto dir = fixture_dir(GetParam());
  const auto checkpoint = import_hf_checkpoint(dir, tmp.path() / "ckpt");
  EXPECT_EQ(checkpoint.filename(), "step-00000000");
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "ckpt" / "config.yml"));
  const TrainerState state = read_trainer_state(checkpoint);
  EXPECT_EQ(state.step, 0);
  EXPECT_EQ(state.optimizer_steps, 0);
  // The config beside the checkpoint loads and starts a run from it.
  const LoadedConfig run = load_config(tmp.path() / "ckpt" / "config.yml");
  EXPECT_EQ(std::filesystem::path(run.config.checkpoint.init_from).filename(), "step-00000000");

  export_hf_checkpoint(checkpoint, tmp.path() / "hf", {"fp32", 0});
  expect_same_tensors(dir, tmp.path() / "hf");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfFixture, ::testing::ValuesIn(kFixtures));

TEST(HfImport, ShardedFixtureReadsThroughTheIndex) {
  const auto dir = fixture_dir("stablelm_parallel");
  ASSERT_TRUE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  ASSERT_FALSE(std::filesystem::exists(dir / "model.safetensors"));
  const SafetensorsDir st(dir);
  EXPECT_TRUE(st.contains("model.layers.1.mlp.down_proj.weight"));
}

TEST(HfExport, Bf16ExportRoundsEachWeightOnce) {
  TempDir tmp;
  const HfModel model = read_hf_model(fixture_dir("stablelm_partial"));
  write_hf_model(model.config, model.params.data(), tmp.path() / "bf16");  // default dtype bf16
  const SafetensorsDir st(tmp.path() / "bf16");
  EXPECT_EQ(st.info("model.embed_tokens.weight").dtype, "BF16");
  const HfModel back = read_hf_model(tmp.path() / "bf16");
  ASSERT_EQ(back.params.size(), model.params.size());
  for (size_t i = 0; i < back.params.size(); ++i) {
    ASSERT_LE(std::fabs(back.params[i] - model.params[i]), std::fabs(model.params[i]) * (1.0f / 256)) << i;
  }
  // An existing export is never overwritten.
  EXPECT_TRUE(contains(error_of([&] { write_hf_model(model.config, model.params.data(), tmp.path() / "bf16"); }),
                       "already exists"));
}

TEST(HfImport, BaseConfigSuppliesEverythingButTheModel) {
  TempDir tmp;
  const auto base = tmp.write("base.yml", R"(model:
  num_layers: 12
  hidden_size: 768
  num_heads: 12
  vocab_size: 50000
  seq_length: 32
optimizer: {lr: 3.0e-4}
train: {steps: 77, name: continued}
)");
  const HfModel model = read_hf_model(fixture_dir("llama"), {base});
  EXPECT_EQ(model.config.model.num_layers, 2);  // from config.json
  EXPECT_EQ(model.config.model.hidden_size, 32);
  EXPECT_EQ(model.config.model.seq_length, 32);  // from the base
  EXPECT_EQ(model.config.optimizer.lr, 3.0e-4);
  EXPECT_EQ(model.config.train.steps, 77);
  EXPECT_EQ(model.config.train.name.value(), "continued");
}

// ---- bad input ---------------------------------------------------------------------------------

// A copy of fixture `name` whose model.safetensors is rewritten by `edit` (tensor list in, out).
std::filesystem::path edited_copy(const TempDir& tmp, const std::string& name,
                                  const std::function<void(std::vector<SafetensorToWrite>&)>& edit) {
  const auto src = fixture_dir(name);
  const auto dst = tmp.path() / name;
  std::filesystem::create_directories(dst);
  std::filesystem::copy_file(src / "config.json", dst / "config.json");
  const SafetensorsFile f(src / "model.safetensors");
  std::vector<SafetensorToWrite> tensors;
  for (const SafetensorInfo& t : f.tensors()) tensors.push_back({t.name, t.dtype, t.shape, f.bytes(t)});
  edit(tensors);
  write_safetensors(dst / "model.safetensors", tensors);
  return dst;
}

TEST(HfImport, MissingTensorIsNamed) {
  TempDir tmp;
  const auto dir = edited_copy(tmp, "stablelm_partial", [](auto& ts) {
    std::erase_if(ts, [](const SafetensorToWrite& t) { return t.name == "model.layers.1.self_attn.k_proj.bias"; });
  });
  const std::string e = error_of([&] { read_hf_model(dir); });
  EXPECT_TRUE(contains(e, "tensor 'model.layers.1.self_attn.k_proj.bias' [32] is missing"));
}

TEST(HfImport, WrongShapeIsNamed) {
  TempDir tmp;
  const auto dir = edited_copy(tmp, "llama", [](auto& ts) {
    for (auto& t : ts)
      if (t.name == "model.layers.0.mlp.up_proj.weight") t.shape = {32, 64};  // transposed, same bytes
  });
  const std::string e = error_of([&] { read_hf_model(dir); });
  EXPECT_TRUE(contains(e, "tensor 'model.layers.0.mlp.up_proj.weight' in model.safetensors has shape [32, 64], expected [64, 32]"));
}

TEST(HfImport, ExtraTensorIsNamed) {
  TempDir tmp;
  static const std::vector<float> extra(32, 0.0f);
  const auto dir = edited_copy(tmp, "stablelm_partial", [](auto& ts) {
    ts.push_back({"model.layers.0.self_attn.o_proj.bias", "F32", {32}, std::as_bytes(std::span<const float>(extra))});
  });
  EXPECT_TRUE(contains(error_of([&] { read_hf_model(dir); }), "'model.layers.0.self_attn.o_proj.bias' in model.safetensors has no place"));
}

TEST(HfImport, CorruptSafetensorsHeaderIsNamed) {
  TempDir tmp;
  const auto dir = tmp.path() / "bad";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(fixture_dir("llama") / "config.json", dir / "config.json");
  std::ofstream(dir / "model.safetensors", std::ios::binary) << std::string("\x08\x00\x00\x00\x00\x00\x00\x00{\"a\": [1", 16);
  const std::string e = error_of([&] { read_hf_model(dir); });
  EXPECT_TRUE(contains(e, (dir / "model.safetensors").string()));
  EXPECT_TRUE(contains(e, "not valid JSON"));
}

TEST(HfImport, UnsupportedConfigKeyIsNamed) {
  TempDir tmp;
  const auto dir = edited_copy(tmp, "stablelm_partial", [](auto&) {});
  nlohmann::json c = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  c["qk_layernorm"] = true;
  c["num_key_value_heads"] = 2;
  std::ofstream(dir / "config.json") << c.dump();
  const std::string e = error_of([&] { read_hf_model(dir); });
  EXPECT_TRUE(contains(e, "qk_layernorm: true"));
  EXPECT_TRUE(contains(e, "num_key_value_heads: 2"));
}

// ---- kiln → transformers --------------------------------------------------------------------------

bool transformers_available() { return std::system("python3 -c 'import transformers' >/dev/null 2>&1") == 0; }

// kiln-native models: one that needs zero norm biases and vocabulary padding, and a Llama.
const char* const kKilnModels[] = {
    R"(model:
  num_layers: 2
  hidden_size: 64
  num_heads: 4
  ffn_hidden_size: 96
  vocab_size: 100
  vocab_pad_multiple: 64
  seq_length: 16
  norm_bias: false
  final_norm_bias: true
  qkv_bias: true
  rotary_pct: 0.25
  rotary_theta: 1000
  init: {std: 0.2}
train: {steps: 1}
)",
    R"(model:
  num_layers: 2
  hidden_size: 32
  num_heads: 2
  ffn_hidden_size: 64
  vocab_size: 64
  vocab_pad_multiple: 64
  seq_length: 16
  norm: rmsnorm
  norm_eps: 1e-6
  rotary_pct: 1.0
  tied_embeddings: true
  init: {std: 0.2}
train: {steps: 1}
)"};

class KilnExport : public ::testing::TestWithParam<const char*> {};

TEST_P(KilnExport, TransformersLoadsTheExportAndGivesKilnsLogits) {
  const Config config = config_from_yaml(GetParam());
  const ParamRegistry registry = make_param_registry(config.model);
  std::vector<float> params(static_cast<size_t>(registry.total_numel()), 0.0f);
  init_parameters(params.data(), registry, config.model, 1234);
  // Norm gains and biases away from 1 and 0, so a dropped or swapped one would show.
  for (const ParamEntry& e : registry) {
    if (param_role(e.name) == ParamRole::norm_weight || param_role(e.name) == ParamRole::norm_bias ||
        param_role(e.name) == ParamRole::bias)
      for (int64_t i = 0; i < e.numel(); ++i) params[static_cast<size_t>(e.offset + i)] += 0.01f * static_cast<float>(i % 7) - 0.03f;
  }
  TempDir tmp;
  const auto out = tmp.path() / "export";
  write_hf_model(config, params.data(), out, {"fp32", 0});

  const int B = 2, T = 8;
  std::vector<int32_t> tokens(B * T);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 37 + 11) % config.model.vocab_size);
  const std::vector<float> ours = kiln_logits(config.model, params, tokens, B, T);

  // Always: kiln reads its own export back to the same logits.
  const HfModel back = read_hf_model(out);
  EXPECT_TRUE(logits_close(kiln_logits(back.config.model, back.params, tokens, B, T), ours, 0.0));

  if (!transformers_available()) GTEST_SKIP() << "python3 cannot import transformers; the transformers half of this test needs it";
  {
    std::ofstream f(tmp.path() / "tokens.json");
    f << nlohmann::json({{"batch", B}, {"seq", T}, {"tokens", tokens}}).dump();
  }
  const std::string script = std::string(KILN_SOURCE_DIR) + "/tests/hf/hf_logits.py";
  const std::string cmd = "python3 '" + script + "' '" + out.string() + "' '" + (tmp.path() / "tokens.json").string() +
                          "' '" + (tmp.path() / "hf.json").string() + "' > '" + (tmp.path() / "log").string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << std::ifstream(tmp.path() / "log").rdbuf();
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(tmp.path() / "hf.json"));
  EXPECT_EQ(j.at("architecture").get<std::string>(), config.model.norm == NormType::rmsnorm ? "LlamaForCausalLM" : "StableLmForCausalLM");
  EXPECT_TRUE(logits_close(ours, j.at("logits").get<std::vector<float>>(), 1e-4));
}

INSTANTIATE_TEST_SUITE_P(Models, KilnExport, ::testing::ValuesIn(kKilnModels));

}  // namespace
}  // namespace kiln::hf
