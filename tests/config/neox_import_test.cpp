#include "config/neox_import.h"

#include <algorithm>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <unistd.h>

#include "config/loader.h"

namespace kiln {
namespace {

std::filesystem::path reference(const std::string& name) {
  return std::filesystem::path(KILN_SHARED_DIR) / "reference" / "configs" / name;
}

// A small GPT-NeoX config that imports cleanly; tests edit its lines. Line i of the file is
// kBase[i - 2] (line 1 is the opening brace), and every key starts in column 3.
const std::vector<std::string> kBase = {
    "\"num-layers\": 2,",
    "\"hidden-size\": 64,",
    "\"num-attention-heads\": 4,",
    "\"seq-length\": 128,",
    "\"pos-emb\": \"rotary\",",
    "\"rotary_pct\": 0.25,",
    "\"hidden-dropout\": 0,",
    "\"attention-dropout\": 0.0,",
    "\"train-iters\": 1_000,",
    "\"vocab-file\": \"data/gpt2-vocab.json\",",
};

class NeoxImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kiln_neox_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::vector<std::string>& lines) {
    auto path = dir_ / "neox.yml";
    std::ofstream out(path);
    out << "{\n";
    for (const auto& l : lines) out << "  " << l << "\n";
    out << "}\n";
    return path;
  }

  // The ConfigError of importing `lines`; fails the test when the import succeeds.
  std::vector<Diagnostic> refusals(const std::vector<std::string>& lines, const NeoxImportOptions& o = {}) {
    try {
      import_neox(write(lines), o);
    } catch (const ConfigError& e) {
      return e.diagnostics();
    }
    ADD_FAILURE() << "import succeeded";
    return {};
  }

  // Base config with `line` appended; expects exactly one refusal, at that line (and column, for a
  // top-level key), naming `key`.
  void expect_refused(const std::string& line, const std::string& key, const std::string& why,
                      bool top_level = true) {
    auto lines = kBase;
    lines.push_back(line);
    auto d = refusals(lines);
    ASSERT_EQ(d.size(), 1u) << line;
    const std::string at = (dir_ / "neox.yml").string() + ":" + std::to_string(lines.size() + 1) + ":";
    if (top_level)
      EXPECT_EQ(d[0].where, at + "3");
    else
      EXPECT_TRUE(d[0].where.starts_with(at)) << d[0].where;
    EXPECT_NE(d[0].message.find("'" + key), std::string::npos) << d[0].message;
    EXPECT_NE(d[0].message.find(why), std::string::npos) << d[0].message;
  }

  std::filesystem::path dir_;
};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool any_contains(const std::vector<std::string>& v, const std::string& s) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& x) { return x.find(s) != std::string::npos; });
}

TEST(NeoxImport, StableLm2) {
  const NeoxImport r = import_neox(reference("stablelm-2-1_6b.yml"));
  const YAML::Node& m = r.config["model"];
  EXPECT_EQ(m["num_layers"].as<int>(), 24);
  EXPECT_EQ(m["positions"].as<std::string>(), "rotary");
  EXPECT_FALSE(m["qkv_bias"].as<bool>());  // as the file says, not as the released model has it
  EXPECT_FALSE(m["final_norm_bias"].as<bool>());
  EXPECT_EQ(r.config["schedule"]["style"].as<std::string>(), "hyb2");
  EXPECT_FALSE(r.config["optimizer"].IsNull());
  EXPECT_TRUE(any_contains(r.notes, "arcade100k.tiktoken"));

  const Config c = load_config_tree(r.config, "x.yml").config;
  EXPECT_EQ(c.model.num_layers, 24);
  EXPECT_EQ(c.model.hidden_size, 2048);
  EXPECT_EQ(c.model.num_heads, 32);
  EXPECT_EQ(c.model.seq_length, 4096);
  EXPECT_EQ(c.model.max_position_embeddings.value(), 4096);
  EXPECT_EQ(c.model.norm, NormType::layernorm);
  EXPECT_DOUBLE_EQ(c.model.norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.model.rotary_pct, 0.25);
  EXPECT_DOUBLE_EQ(c.model.rotary_theta, 10000.0);
  EXPECT_EQ(c.model.activation, Activation::swiglu);
  EXPECT_EQ(c.model.ffn(), 5632);
  EXPECT_FALSE(c.model.tied_embeddings);
  EXPECT_FALSE(c.model.parallel_residual);
  EXPECT_FALSE(c.model.norm_bias);
  EXPECT_FALSE(c.model.qkv_bias);
  EXPECT_FALSE(c.model.linear_bias);
  EXPECT_TRUE(c.model.init.scale_output_layers);
  EXPECT_DOUBLE_EQ(c.model.init.std, 0.02);
  EXPECT_EQ(c.model.vocab_size, 100289);
  EXPECT_EQ(c.model.padded_vocab(), 100352);
  EXPECT_EQ(c.parallel.tensor, 1);
  EXPECT_EQ(c.parallel.zero_stage, 1);
  EXPECT_EQ(c.parallel.grad_reduce_dtype, Precision::fp32);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 1e-3);
  EXPECT_DOUBLE_EQ(c.optimizer.beta1, 0.9);
  EXPECT_DOUBLE_EQ(c.optimizer.beta2, 0.95);
  EXPECT_DOUBLE_EQ(c.optimizer.eps, 1e-8);
  EXPECT_DOUBLE_EQ(c.optimizer.weight_decay, 0.1);
  EXPECT_DOUBLE_EQ(c.optimizer.grad_clip, 1.0);
  EXPECT_EQ(c.train.steps, 540000);
  EXPECT_EQ(c.schedule.style, ScheduleStyle::hyb2);
  EXPECT_DOUBLE_EQ(c.schedule.warmup_fraction.value(), 0.018);
  EXPECT_EQ(c.schedule.warmup_steps.value(), 9720);
  EXPECT_EQ(c.schedule.decay_steps.value(), 540000);
  EXPECT_DOUBLE_EQ(c.schedule.min_lr, 1e-4);
  EXPECT_EQ(c.schedule.cooldown_steps, 0);
  EXPECT_EQ(c.batch.micro_batch, 2);
  EXPECT_EQ(c.batch.grad_accum.value(), 2);
  EXPECT_TRUE(c.data.reset_attention_mask);
  EXPECT_TRUE(c.data.reset_position_ids);
  EXPECT_EQ(c.data.format, DataFormat::mmap);
  EXPECT_EQ(c.data.tokenizer, "arcade100k.tiktoken");
  ASSERT_EQ(c.data.valid_paths.size(), 1u);
  EXPECT_EQ(c.data.valid_paths[0], "minipile_validation_arcade100k_tokenized_text_document");
  EXPECT_TRUE(c.data.train_paths.empty());
  EXPECT_EQ(c.train.precision, Precision::bf16);
  EXPECT_EQ(c.train.recompute, Recompute::full);
  EXPECT_EQ(c.train.seed, 1234);
  EXPECT_EQ(c.train.eval_interval, 500000);
  EXPECT_EQ(c.train.eval_steps, 1);
  EXPECT_EQ(c.checkpoint.interval, 2000);
  EXPECT_EQ(c.checkpoint.dir, "");        // "save": "" leaves kiln's default
  EXPECT_EQ(c.checkpoint.resume, "auto");  // "load": "" likewise
  EXPECT_EQ(c.logging.interval, 10);
}

TEST(NeoxImport, StableLm3B4E1T) {
  const NeoxImport r = import_neox(reference("stablelm-3b-4e1t.yml"));
  EXPECT_TRUE(any_contains(r.notes, "neox-tokenizer-vocab.json"));
  const Config c = load_config_tree(r.config, "x.yml").config;
  EXPECT_EQ(c.model.num_layers, 32);
  EXPECT_EQ(c.model.hidden_size, 2560);
  EXPECT_EQ(c.model.num_heads, 32);
  EXPECT_EQ(c.model.seq_length, 4096);
  EXPECT_EQ(c.model.ffn(), 6912);
  EXPECT_EQ(c.model.activation, Activation::swiglu);
  EXPECT_DOUBLE_EQ(c.model.rotary_pct, 0.25);
  EXPECT_FALSE(c.model.tied_embeddings);
  EXPECT_TRUE(c.model.norm_bias);
  EXPECT_TRUE(c.model.final_norm_bias.value());
  EXPECT_FALSE(c.model.qkv_bias);
  EXPECT_FALSE(c.model.linear_bias);
  EXPECT_TRUE(c.model.init.scale_output_layers);  // left out: GPT-NeoX's default scaled_normal
  EXPECT_EQ(c.model.vocab_size, 50277);
  EXPECT_EQ(c.model.padded_vocab(), 50304);
  EXPECT_EQ(c.parallel.zero_stage, 1);
  EXPECT_EQ(c.parallel.grad_reduce_dtype, Precision::bf16);  // fp32_allreduce left at false
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 3.2e-4);
  EXPECT_DOUBLE_EQ(c.optimizer.beta1, 0.9);
  EXPECT_DOUBLE_EQ(c.optimizer.beta2, 0.95);
  EXPECT_DOUBLE_EQ(c.optimizer.eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.schedule.min_lr, 1.28e-5);
  EXPECT_EQ(c.schedule.style, ScheduleStyle::cosine);
  EXPECT_EQ(c.train.steps, 955000);
  EXPECT_EQ(c.schedule.warmup_steps.value(), 4775);
  EXPECT_FALSE(c.data.reset_attention_mask);
  EXPECT_FALSE(c.data.reset_position_ids);
  EXPECT_EQ(c.batch.micro_batch, 4);
  EXPECT_EQ(c.batch.grad_accum.value(), 1);
  EXPECT_EQ(c.train.eval_interval, 5000);
  EXPECT_EQ(c.train.eval_steps, 10);
}

TEST(NeoxImport, IgnoredInfrastructureListedOncePerKey) {
  const NeoxImport r = import_neox(reference("stablelm-2-1_6b.yml"));
  for (const char* key : {"wandb_host", "wandb_team", "use_wandb", "launcher", "deepspeed_slurm", "num-workers",
                          "distributed-backend", "s3_path", "s3_sync_interval", "tokenizer-type",
                          "test-data-paths", "eval_tasks", "checkpoint-num-layers", "base-shapes-file",
                          "zero_optimization.overlap_comm", "zero_optimization.cpu_offload",
                          "attention-config", "bias-gelu-fusion", "use_flash_cross_entropy"})
    EXPECT_TRUE(contains(r.ignored, key)) << key;
  auto sorted = r.ignored;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a key is listed twice";
  // Mapped keys are not "ignored".
  EXPECT_FALSE(contains(r.ignored, "seed"));
  EXPECT_FALSE(contains(r.ignored, "zero_optimization.stage"));
}

TEST(NeoxImport, OverridesAddWhatTheFileLeavesOut) {
  const NeoxImport r = import_neox(reference("stablelm-2-1_6b.yml"));
  const Config c = load_config_tree(r.config, "x.yml",
                                    {{"model.qkv_bias", "true"}, {"model.final_norm_bias", "true"}})
                       .config;
  EXPECT_TRUE(c.model.qkv_bias);
  EXPECT_TRUE(c.model.final_norm_bias.value());
  EXPECT_FALSE(c.model.norm_bias);
  EXPECT_FALSE(c.model.linear_bias);
}

TEST_F(NeoxImportTest, LeftOutKeysTakeGptNeoxDefaults) {
  const NeoxImport r = import_neox(write(kBase));
  const Config c = load_config_tree(r.config, "x.yml").config;
  EXPECT_TRUE(c.model.tied_embeddings);  // no_weight_tying defaults to false
  EXPECT_EQ(c.model.activation, Activation::gelu);
  EXPECT_EQ(c.model.ffn(), 4 * 64);
  EXPECT_TRUE(c.model.qkv_bias);
  EXPECT_TRUE(c.model.linear_bias);
  EXPECT_TRUE(c.model.norm_bias);
  EXPECT_EQ(c.model.vocab_pad_multiple, 128);
  EXPECT_EQ(c.model.vocab_size, 50257);
  EXPECT_DOUBLE_EQ(c.optimizer.weight_decay, 0.01);
  EXPECT_DOUBLE_EQ(c.optimizer.grad_clip, 0.0);
  EXPECT_EQ(c.schedule.style, ScheduleStyle::linear);
  EXPECT_EQ(c.schedule.warmup_steps.value(), 10);  // warmup 0.01 of 1,000
  EXPECT_EQ(c.train.precision, Precision::fp32);
  EXPECT_EQ(c.parallel.zero_stage, 0);  // DeepSpeed's default, not kiln's 1
  EXPECT_EQ(c.model.mlp_multiple_of, 1);
  EXPECT_EQ(c.parallel.grad_reduce_dtype, Precision::fp32);  // fp32 training reduces in fp32
  EXPECT_TRUE(any_contains(r.notes, "no optimizer section"));
}

TEST_F(NeoxImportTest, HyphenAndUnderscoreSpellingsAreOneKey) {
  auto lines = kBase;
  lines.push_back("\"hidden_size\": 64,");
  auto d = refusals(lines);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("'hidden_size: 64'"), std::string::npos) << d[0].message;
  EXPECT_NE(d[0].message.find("line 3"), std::string::npos) << d[0].message;
}

TEST_F(NeoxImportTest, RefusesPipelineParallelism) {
  expect_refused("\"pipe-parallel-size\": 2,", "pipe-parallel-size: 2", "pipeline parallelism");
}

TEST_F(NeoxImportTest, RefusesDropout) {
  auto lines = kBase;
  lines[6] = "\"hidden-dropout\": 0.1,";
  auto d = refusals(lines);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].where, (dir_ / "neox.yml").string() + ":8:3");
  EXPECT_NE(d[0].message.find("'hidden-dropout: 0.1'"), std::string::npos) << d[0].message;
  EXPECT_NE(d[0].message.find("no dropout"), std::string::npos) << d[0].message;
}

TEST_F(NeoxImportTest, RefusesUnknownKeys) {
  expect_refused("\"frobnicate-heads\": 2,", "frobnicate-heads: 2", "unknown GPT-NeoX key");
}

TEST_F(NeoxImportTest, RefusesNeoxMup) { expect_refused("\"use-mup\": true,", "use-mup: true", "µP"); }

TEST_F(NeoxImportTest, RefusesInterleavedRotary) {
  expect_refused("\"rotary_interleaved\": true,", "rotary_interleaved: true", "interleaved");
}

TEST_F(NeoxImportTest, RefusesOtherArchitectureChoices) {
  expect_refused("\"attention-config\": [[[\"local\", \"global\"], 1]],", "attention-config", "local");
  expect_refused("\"gpt_j_residual\": true, \"gpt_j_tied\": true,", "gpt_j_tied: true", "two norms", false);
  expect_refused("\"use_bias_in_mlp\": false,", "use_bias_in_mlp: false", "use_bias_in_attn_linear is true");
  expect_refused("\"norm\": \"scalenorm\",", "norm: scalenorm", "layernorm and rmsnorm");
  expect_refused("\"activation\": \"relu\",", "activation: relu", "this file has activation relu");
  expect_refused("\"activation\": \"geglu\",", "activation: geglu", "this file has activation geglu");
  expect_refused("\"num-kv-heads\": 2,", "num-kv-heads: 2", "grouped-query attention");
  expect_refused("\"moe_num_experts\": 8,", "moe_num_experts: 8", "mixture-of-experts");
  expect_refused("\"te_mha\": true,", "te_mha: true", "Transformer Engine");
  expect_refused("\"zero_optimization\": {\"stage\": 2},", "zero_optimization.stage: 2", "ZeRO stage 0 or 1", false);
  expect_refused("\"optimizer\": {\"type\": \"SGD\"},", "optimizer.type: SGD", "AdamW", false);
  expect_refused("\"precision\": \"fp16\",", "precision: fp16", "fp16");
  expect_refused("\"lr-decay-style\": \"exponential\",", "lr-decay-style: exponential", "kiln implements");
}

TEST_F(NeoxImportTest, RefusalsAreReportedTogetherInFileOrder) {
  auto lines = kBase;
  lines[6] = "\"hidden-dropout\": 0.1,";
  lines.push_back("\"pipe-parallel-size\": 2,");
  lines.push_back("\"use_mup\": true,");
  lines.push_back("\"no-such-key\": 1,");
  auto d = refusals(lines);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_NE(d[0].message.find("hidden-dropout"), std::string::npos);
  EXPECT_NE(d[1].message.find("pipe-parallel-size"), std::string::npos);
  EXPECT_NE(d[2].message.find("use_mup"), std::string::npos);
  EXPECT_NE(d[3].message.find("no-such-key"), std::string::npos);
}

TEST_F(NeoxImportTest, MissingKeysWithUnsupportedDefaultsAreRefused) {
  auto lines = kBase;
  lines.erase(lines.begin() + 4);  // pos-emb: GPT-NeoX would use learned positions
  auto d = refusals(lines);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].where, (dir_ / "neox.yml").string());
  EXPECT_NE(d[0].message.find("'pos_emb' is not set"), std::string::npos) << d[0].message;
}

TEST_F(NeoxImportTest, VocabularySize) {
  auto lines = kBase;
  lines.back() = "\"vocab-file\": \"my-tokenizer.json\",";
  auto d = refusals(lines);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("--vocab-size"), std::string::npos) << d[0].message;

  const NeoxImport r = import_neox(write(lines), {.vocab_size = 32000});
  EXPECT_EQ(r.config["model"]["vocab_size"].as<int64_t>(), 32000);
  EXPECT_TRUE(any_contains(r.notes, "--vocab-size"));
}

TEST_F(NeoxImportTest, BadValuesAreReportedAtTheirNeoxKey) {
  auto lines = kBase;
  lines[0] = "\"num-layers\": 0,";
  auto d = refusals(lines);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].where, (dir_ / "neox.yml").string() + ":2:3");
  EXPECT_NE(d[0].message.find("model.num_layers"), std::string::npos) << d[0].message;
}

TEST_F(NeoxImportTest, GlobalBatchGivesDataParallelSize) {
  auto lines = kBase;
  lines.push_back("\"train_micro_batch_size_per_gpu\": 4,");
  lines.push_back("\"gradient_accumulation_steps\": 2,");
  lines.push_back("\"train_batch_size\": 64,");
  const Config c = load_config_tree(import_neox(write(lines)).config, "x.yml").config;
  EXPECT_EQ(c.parallel.data, 8);
  EXPECT_EQ(c.batch.global_batch.value(), 64);
}

}  // namespace
}  // namespace kiln
