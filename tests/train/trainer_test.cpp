// The single-process trainer on the tiny config: the loss falls on the synthetic language, runs are
// reproducible, and what this build cannot train is refused before anything is written.
#include "train/trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "config/loader.h"
#include "support/temp_dir.h"
#include "train/run_dir.h"

namespace kiln {
namespace {

Config tiny(const std::vector<Override>& overrides) {
  return load_config(std::string(KILN_SOURCE_DIR) + "/configs/tiny.yml", overrides).config;
}

TEST(Trainer, LossFallsWellBelowItsStartOnTheSyntheticLanguage) {
  // 60 of tiny's 200 steps: about 20 s on two cores. ln(512) ≈ 6.24 at the start; the language's
  // optimal loss is 1.30 nats/token.
  Trainer trainer(tiny({{"train.steps", "60"}, {"train.eval_interval", "0"}, {"schedule.cooldown_steps", "0"}}));
  const TrainSummary s = trainer.run();
  EXPECT_EQ(s.steps, 60);
  EXPECT_EQ(s.skipped_steps, 0);
  EXPECT_NEAR(s.first_loss, std::log(512.0), 0.3);
  EXPECT_LT(s.final_loss, s.first_loss - 3.0) << "first " << s.first_loss << ", final " << s.final_loss;
  ASSERT_TRUE(s.final_eval_loss.has_value());  // the last step always evaluates
  EXPECT_LT(*s.final_eval_loss, s.first_loss - 3.0);
  EXPECT_GT(s.tokens_per_second, 0);
}

TEST(Trainer, SameConfigSameLosses) {
  const Config c = tiny({{"train.steps", "6"}, {"train.eval_interval", "0"}, {"schedule.warmup_steps", "2"},
                         {"schedule.cooldown_steps", "0"}});
  const TrainSummary a = Trainer(c).run();
  const TrainSummary b = Trainer(c).run();
  EXPECT_EQ(a.final_loss, b.final_loss);  // bit for bit: fixed-order reductions everywhere
  EXPECT_EQ(*a.final_eval_loss, *b.final_eval_loss);
}

TEST(Trainer, Fp32AndBf16BothTrain) {
  for (const char* precision : {"fp32", "bf16"}) {
    const TrainSummary s = Trainer(tiny({{"train.steps", "30"}, {"train.eval_interval", "0"},
                                         {"schedule.cooldown_steps", "0"}, {"train.precision", precision}}))
                               .run();
    EXPECT_LT(s.final_loss, s.first_loss - 1.0) << precision;
  }
}

TEST(Trainer, RefusesWhatThisBuildCannotTrain) {
  auto message = [](const std::vector<Override>& o) {
    try {
      Trainer t(tiny(o));
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({{"train.device", "cuda"}}).find("train.device = cuda"), std::string::npos);
  EXPECT_NE(message({{"parallel.data", "2"}}).find("multi-rank"), std::string::npos);
  EXPECT_NE(message({{"data.format", "mmap"}}).find("data.format = mmap"), std::string::npos);
  EXPECT_NE(message({{"train.recompute", "full"}}).find("train.recompute = full"), std::string::npos);
}

TEST(RunDirectory, HoldsTheResolvedConfigAndIsNeverReused) {
  testing::TempDir dir;
  const Config c = tiny({{"train.output_dir", dir.path().string()}});
  const RunDirectory run = create_run_directory(c, "header");
  EXPECT_EQ(run.path, dir.path() / "tiny");
  EXPECT_EQ(run.metrics_file, dir.path() / "tiny" / "metrics.jsonl");
  const Config back = load_config(run.config_file).config;
  EXPECT_EQ(back.train.steps, c.train.steps);
  EXPECT_EQ(*back.train.name, "tiny");
  try {
    create_run_directory(c, "header");
    FAIL() << "a run directory holding a run must not be reused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("already holds a run"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
