// Loading: sections and fields, includes, overrides, and every single-key error with its location.
#include "config/loader.h"

#include <gtest/gtest.h>

#include "support/minimal_config.h"
#include "support/temp_dir.h"

namespace kiln {
namespace {

using testing::TempDir;

const std::string kMinimal = testing::kMinimalConfig;

// The single diagnostic of a load that must fail.
Diagnostic only_error(const std::filesystem::path& file, const std::vector<Override>& overrides = {}) {
  try {
    load_config(file, overrides);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.diagnostics().size(), 1u) << e.what();
    return e.diagnostics().front();
  }
  ADD_FAILURE() << "expected a ConfigError for " << file;
  return {};
}

TEST(Loader, MinimalConfigGetsDefaultsAndDerivedValues) {
  TempDir dir;
  const LoadedConfig l = load_config(dir.write("small.yml", kMinimal));
  const Config& c = l.config;
  EXPECT_EQ(c.model.num_layers, 2);
  EXPECT_EQ(c.model.ffn(), 256);  // 256·ceil(8/3·64/256)
  EXPECT_EQ(c.model.padded_vocab(), 512);
  EXPECT_EQ(*c.model.max_position_embeddings, 128);
  EXPECT_EQ(*c.batch.grad_accum, 1);
  EXPECT_EQ(*c.batch.global_batch, 1);
  EXPECT_EQ(*c.schedule.decay_steps, 100);
  EXPECT_EQ(*c.train.name, "small");
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 1e-3);
  EXPECT_EQ(l.origin("model.num_layers"), dir.path().string() + "/small.yml:2:15");
  EXPECT_EQ(l.origin("optimizer.lr"), "default");
  EXPECT_EQ(l.origin("batch.grad_accum"), "derived");
}

TEST(Loader, UnknownKeySuggestsTheClosestWithLineAndColumn) {
  TempDir dir;
  auto f = dir.write("typo.yml", std::string(kMinimal) + "optimizer:\n  lr: 3e-4\n  wieght_decay: 0.1\n");
  Diagnostic d = only_error(f);
  EXPECT_EQ(d.where, f.string() + ":11:3");
  EXPECT_EQ(d.message, "unknown key 'optimizer.wieght_decay'; did you mean 'optimizer.weight_decay'?");
}

TEST(Loader, KeyInTheWrongSectionPointsToTheRightOne) {
  TempDir dir;
  auto g = dir.write("wrong2.yml", R"(model:
  num_layers: 2
  hidden_size: 64
  num_heads: 4
  vocab_size: 500
  seq_length: 128
  lr: 0.1
train:
  steps: 100
)");
  Diagnostic d = only_error(g);
  EXPECT_EQ(d.where, g.string() + ":7:3");
  EXPECT_EQ(d.message, "unknown key 'model.lr'; did you mean 'optimizer.lr'?");
}

TEST(Loader, DuplicateKeysAreErrors) {
  TempDir dir;
  auto f = dir.write("dup.yml", std::string(kMinimal) + "model:\n  lr: 3e-4\n");
  Diagnostic d = only_error(f);
  EXPECT_EQ(d.where, f.string() + ":9:1");
  EXPECT_EQ(d.message, "duplicate key 'model'");
}

TEST(Loader, HyphenatedSpellingIsRefusedWithTheKilnSpelling) {
  TempDir dir;
  auto f = dir.write("hy.yml", std::string(kMinimal) + "batch:\n  micro-batch: 2\n");
  EXPECT_EQ(only_error(f).message, "unknown key 'batch.micro-batch'; did you mean 'batch.micro_batch'?");
}

TEST(Loader, UnknownSectionListsTheSections) {
  TempDir dir;
  auto f = dir.write("sec.yml", std::string(kMinimal) + "zzzzzz:\n  a: 1\n");
  Diagnostic d = only_error(f);
  EXPECT_EQ(d.where, f.string() + ":9:1");
  EXPECT_NE(d.message.find("unknown key 'zzzzzz'; the sections are: model, "), std::string::npos) << d.message;
}

TEST(Loader, WrongTypeSaysWhatIsAllowed) {
  TempDir dir;
  auto f = dir.write("type.yml", R"(model:
  num_layers: two
  hidden_size: 64
  num_heads: 4
  vocab_size: 500
  seq_length: 128
train:
  steps: 100
)");
  Diagnostic d = only_error(f);
  EXPECT_EQ(d.where, f.string() + ":2:15");
  EXPECT_EQ(d.message, "model.num_layers: expected an integer, got 'two'");
}

TEST(Loader, OutOfRangeAndBadEnumSayWhatIsAllowed) {
  TempDir dir;
  auto f = dir.write("range.yml", std::string(kMinimal) + "optimizer:\n  beta2: 1.5\n");
  EXPECT_EQ(only_error(f).message, "optimizer.beta2: must be 0 ≤ x < 1, got '1.5'");
  auto g = dir.write("enum.yml", std::string(kMinimal) + "schedule:\n  style: cosin\n");
  EXPECT_EQ(only_error(g).message,
            "schedule.style: expected one of constant | linear | cosine | rsqrt | wsd | hyb | hyb2, got 'cosin'");
  auto h = dir.write("map.yml", std::string(kMinimal) + "optimizer:\n  lr: {a: 1}\n");
  EXPECT_EQ(only_error(h).message, "optimizer.lr: expected a number, got a mapping");
  auto s = dir.write("sect.yml", std::string(kMinimal) + "optimizer: 3\n");
  EXPECT_EQ(only_error(s).message, "'optimizer' is a section: expected a mapping of its keys");
}

TEST(Loader, MissingRequiredKeysAreAllReported) {
  TempDir dir;
  auto f = dir.write("req.yml", "model:\n  num_layers: 2\n");
  try {
    load_config(f);
    FAIL();
  } catch (const ConfigError& e) {
    std::string all = e.what();
    for (const char* key : {"model.hidden_size", "model.num_heads", "model.vocab_size", "model.seq_length", "train.steps"})
      EXPECT_NE(all.find(std::string("missing required key '") + key + "'"), std::string::npos) << key;
    EXPECT_EQ(e.diagnostics().size(), 5u);
  }
}

TEST(Loader, YamlSyntaxErrorHasLocation) {
  TempDir dir;
  auto f = dir.write("syntax.yml", "model:\n  num_layers: [1, 2\n");
  Diagnostic d = only_error(f);
  EXPECT_TRUE(d.where.starts_with(f.string() + ":")) << d.where;
  EXPECT_TRUE(d.message.starts_with("YAML syntax error")) << d.message;
}

TEST(Loader, MissingFileIsNamed) {
  Diagnostic d = only_error("/nonexistent/kiln.yml");
  EXPECT_EQ(d.message, "config file '/nonexistent/kiln.yml' does not exist or is not a file");
}

TEST(Loader, BaseIncludesResolveRelativeAndLaterWins) {
  TempDir dir;
  dir.write("bases/common.yml", std::string(kMinimal) + "optimizer:\n  lr: 0.01\n  eps: 1e-6\n");
  dir.write("bases/mid.yml", "base: common.yml\noptimizer:\n  lr: 0.02\n");
  auto top = dir.write("top.yml", "base: bases/mid.yml\noptimizer:\n  lr: 0.03\n");
  LoadedConfig l = load_config(top);
  EXPECT_DOUBLE_EQ(l.config.optimizer.lr, 0.03);
  EXPECT_DOUBLE_EQ(l.config.optimizer.eps, 1e-6);
  EXPECT_EQ(l.files.size(), 3u);
  EXPECT_EQ(*l.config.train.name, "top");
  l = load_config(top, {{"optimizer.lr", "4e-4"}});
  EXPECT_DOUBLE_EQ(l.config.optimizer.lr, 4e-4);
  EXPECT_EQ(l.origin("optimizer.lr"), "--set optimizer.lr=4e-4");
}

TEST(Loader, NullUnsetsAnInheritedOptional) {
  TempDir dir;
  dir.write("base.yml", std::string(kMinimal) + "schedule:\n  warmup_fraction: 0.1\n");
  auto top = dir.write("top.yml", "base: base.yml\nschedule:\n  warmup_fraction: null\n  warmup_steps: 3\n");
  LoadedConfig l = load_config(top);
  EXPECT_EQ(*l.config.schedule.warmup_steps, 3);
  EXPECT_FALSE(l.config.schedule.warmup_fraction.has_value());
}

TEST(Loader, IncludeCycleAndMissingBaseAreErrors) {
  TempDir dir;
  dir.write("a.yml", "base: b.yml\n");
  auto b = dir.write("b.yml", "base: a.yml\n");
  EXPECT_NE(only_error(b).message.find("includes itself"), std::string::npos);
  auto c = dir.write("c.yml", "base: nothere.yml\n");
  Diagnostic d = only_error(c);
  EXPECT_EQ(d.where, c.string() + ":1:7");
  EXPECT_NE(d.message.find("nothere.yml' does not exist"), std::string::npos);
}

TEST(Loader, OverridesAreTypedAndChecked) {
  TempDir dir;
  auto f = dir.write("o.yml", kMinimal);
  LoadedConfig l = load_config(f, {{"data.train_paths", "[a, b]"}, {"model.qkv_bias", "true"}});
  EXPECT_EQ(l.config.data.train_paths, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(l.config.model.qkv_bias);
  Diagnostic d = only_error(f, {{"optimizer.lrr", "1"}});
  EXPECT_EQ(d.where, "--set optimizer.lrr=1");
  EXPECT_EQ(d.message, "unknown key 'optimizer.lrr'; did you mean 'optimizer.lr'?");
  d = only_error(f, {{"optimizer.lr", "fast"}});
  EXPECT_EQ(d.text(), "--set optimizer.lr=fast: optimizer.lr: expected a number, got 'fast'");
  EXPECT_THROW(parse_override("optimizer.lr"), ConfigError);
  EXPECT_EQ(parse_override("a.b=x=y").value, "x=y");
}

TEST(Loader, SeveralProblemsAreReportedTogether) {
  TempDir dir;
  auto f = dir.write("many.yml", std::string(kMinimal) + "optimizer:\n  lr: -1\n  eps: x\n  beta9: 1\n");
  try {
    load_config(f);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.diagnostics().size(), 3u) << e.what();
  }
}

}  // namespace
}  // namespace kiln
