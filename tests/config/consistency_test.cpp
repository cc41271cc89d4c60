// Cross-field checks: each error names every key involved, with where each value came from.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "support/minimal_config.h"
#include "support/temp_dir.h"

namespace kiln {
namespace {

using testing::TempDir;

const std::string kBase = testing::kMinimalConfig;

std::string error_text(const TempDir& dir, const std::string& extra, const std::vector<Override>& overrides = {}) {
  auto f = dir.write("c.yml", kBase + extra);
  try {
    load_config(f, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Consistency, HeadsMustDivideHidden) {
  TempDir dir;
  std::string e = error_text(dir, "", {{"model.num_heads", "5"}});
  EXPECT_NE(e.find("model.hidden_size = 64 (" + (dir.path() / "c.yml").string() + ":3:16) is not divisible by "
                   "model.num_heads = 5 (--set model.num_heads=5)"),
            std::string::npos)
      << e;
}

TEST(Consistency, RecomputeLayersMustFitTheModel) {
  TempDir dir;
  std::string e = error_text(dir, "", {{"train.recompute", "full"}, {"train.recompute_layers", "3"}});
  EXPECT_NE(e.find("train.recompute_layers = 3 (--set train.recompute_layers=3) exceeds model.num_layers = 2"),
            std::string::npos)
      << e;
}

TEST(Consistency, GlobalBatchMustBeMicroTimesAccumTimesData) {
  TempDir dir;
  std::string e = error_text(dir, "batch:\n  micro_batch: 4\n  grad_accum: 2\n  global_batch: 30\nparallel:\n  data: 2\n");
  for (const char* part : {"batch.global_batch = 30", "batch.micro_batch = 4", "batch.grad_accum = 2",
                           "parallel.data = 2", "= 16"})
    EXPECT_NE(e.find(part), std::string::npos) << part << " in " << e;
  // Only the global batch given: accumulation is derived, and must divide evenly.
  EXPECT_EQ(error_text(dir, "batch:\n  micro_batch: 4\n  global_batch: 32\nparallel:\n  data: 2\n"), "");
  EXPECT_NE(error_text(dir, "batch:\n  micro_batch: 4\n  global_batch: 30\n").find("batch.global_batch = 30"),
            std::string::npos);
}

TEST(Consistency, TensorParallelMustDivideHeadsFfnAndPaddedVocabInOneError) {
  TempDir dir;
  std::string e = error_text(dir, "parallel:\n  tensor: 3\n");
  EXPECT_NE(e.find("parallel.tensor = 3"), std::string::npos) << e;
  EXPECT_NE(e.find("model.num_heads = 4"), std::string::npos) << e;
  EXPECT_NE(e.find("model.ffn_hidden_size = 256 (derived)"), std::string::npos) << e;
  EXPECT_NE(e.find("the padded vocabulary 512"), std::string::npos) << e;
  EXPECT_NE(e.find("model.vocab_pad_multiple = 128 (default)"), std::string::npos) << e;
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 0) << "one error, one line: " << e;
  EXPECT_EQ(error_text(dir, "parallel:\n  tensor: 4\n"), "");
}

TEST(Consistency, RotaryNeedsAnEvenNumberOfDimensions) {
  TempDir dir;
  // head dim 16 × 0.1 = 1 rotary dimension
  EXPECT_NE(error_text(dir, "", {{"model.rotary_pct", "0.1"}}).find("rotate-half needs an even number"),
            std::string::npos);
  EXPECT_EQ(error_text(dir, "", {{"model.rotary_pct", "0.1"}, {"model.positions", "alibi"}}), "");
}

TEST(Consistency, ScheduleChecks) {
  TempDir dir;
  EXPECT_NE(error_text(dir, "schedule:\n  warmup_steps: 100\n").find("must be below schedule.decay_steps = 100"),
            std::string::npos);
  EXPECT_NE(error_text(dir, "schedule:\n  warmup_steps: 5\n  warmup_fraction: 0.1\n").find("disagrees with"),
            std::string::npos);
  EXPECT_EQ(error_text(dir, "schedule:\n  warmup_steps: 10\n  warmup_fraction: 0.1\n"), "");
  EXPECT_NE(error_text(dir, "schedule:\n  hybrid_switch: 0.3\n").find("applies only to hyb and hyb2"),
            std::string::npos);
  EXPECT_NE(error_text(dir, "schedule:\n  min_lr: 0.1\n").find("is above optimizer.lr"), std::string::npos);
  EXPECT_NE(error_text(dir, "schedule:\n  style: wsd\n").find("schedule.wsd_decay_steps = 0 (default) must be between 1"),
            std::string::npos);
  EXPECT_EQ(error_text(dir, "schedule:\n  style: wsd\n  wsd_decay_steps: 20\n"), "");
  EXPECT_NE(error_text(dir, "schedule:\n  warmup_steps: 50\n  cooldown_steps: 60\n").find("overlaps the warmup"),
            std::string::npos);
}

TEST(Consistency, MupWidthScalesMustAgreeAndMupKeysNeedMup) {
  TempDir dir;
  std::string e = error_text(dir, "", {{"model.mup.enabled", "true"}, {"model.mup.base_hidden_size", "32"},
                           {"model.mup.base_ffn_size", "100"}});
  EXPECT_NE(e.find("µP width scales disagree"), std::string::npos) << e;
  EXPECT_EQ(error_text(dir, "", {{"model.mup.enabled", "true"}, {"model.mup.base_hidden_size", "32"},
                                 {"model.mup.base_ffn_size", "128"}}),
            "");
  e = error_text(dir, "", {{"model.mup.embeddings_scale", "14.6"}});
  EXPECT_NE(e.find("model.mup.embeddings_scale (--set model.mup.embeddings_scale=14.6) set but model.mup.enabled is false"),
            std::string::npos)
      << e;
}

TEST(Consistency, DataWeightsMatchPaths) {
  TempDir dir;
  std::string e = error_text(dir, "data:\n  train_paths: [a, b]\n  train_weights: [1.0]\n");
  EXPECT_NE(e.find("data.train_weights has 1 entries"), std::string::npos) << e;
  EXPECT_NE(e.find("data.train_paths has 2"), std::string::npos) << e;
}

}  // namespace
}  // namespace kiln
