// The trainer's metrics on a short tiny-synthetic run: the JSON-lines records carry the per-group
// learning rates and the peak RSS, and the TensorBoard event file has the same numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "log/tensorboard_writer.h"
#include "support/temp_dir.h"
#include "train/trainer.h"

namespace kiln {
namespace {

TEST(TrainerMetrics, JsonLinesAndTensorBoardHaveTheLoggedSteps) {
  testing::TempDir dir;
  const Config c = load_config(std::string(KILN_SOURCE_DIR) + "/configs/tiny-synthetic.yml",
                               {{"train.steps", "4"}, {"train.eval_interval", "0"}, {"logging.interval", "2"},
                                {"schedule.warmup_steps", "2"}, {"schedule.cooldown_steps", "0"}})
                       .config;
  RunOptions options;
  options.metrics_file = dir.path() / "metrics.jsonl";
  options.tensorboard_dir = dir.path() / "tensorboard";
  const TrainSummary summary = Trainer(c).run(options);
  ASSERT_EQ(summary.steps, 4);

  // Logged: step 1, every logging.interval steps, and the last; the last also evaluates.
  std::map<int64_t, nlohmann::json> train;
  std::optional<double> eval_loss;
  std::ifstream in(options.metrics_file);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("eval_loss")) {
      eval_loss = j["eval_loss"].get<double>();
      continue;
    }
    train[j["step"].get<int64_t>()] = j;
  }
  ASSERT_EQ(train.size(), 3u);
  for (const int64_t step : {1, 2, 4}) {
    ASSERT_TRUE(train.count(step)) << step;
    const auto& j = train[step];
    ASSERT_TRUE(j.contains("lr_group_0")) << j.dump();
    // lr × group 0's multiplier (1 unless µP scales it): 0 where the warmup starts at 0, then > 0.
    EXPECT_GE(j["lr_group_0"].get<double>(), 0);
    if (step > 1) {
      EXPECT_GT(j["lr_group_0"].get<double>(), 0);
      EXPECT_NEAR(j["lr_group_0"].get<double>() / j["lr"].get<double>(),
                  train[2]["lr_group_0"].get<double>() / train[2]["lr"].get<double>(), 1e-12);
    }
    ASSERT_TRUE(j.contains("peak_rss_bytes")) << j.dump();
    EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 1 << 20);
    if (!std::getenv("KILN_PEAK_FLOPS")) {
      EXPECT_FALSE(j.contains("mfu")) << "no peak FLOP/s, no MFU";
    }
  }
  ASSERT_TRUE(eval_loss.has_value());

  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(options.tensorboard_dir)) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string().rfind("events.out.tfevents.", 0), 0u);
  std::map<std::string, std::map<int64_t, float>> scalars;
  for (const ScalarEvent& e : read_scalar_events(files[0])) scalars[e.tag][e.step] = e.value;
  ASSERT_EQ(scalars["train/loss"].size(), 3u);
  for (const int64_t step : {1, 2, 4}) {
    ASSERT_TRUE(scalars["train/loss"].count(step)) << step;
    EXPECT_EQ(scalars["train/loss"][step], static_cast<float>(train[step]["loss"].get<double>()));
    EXPECT_EQ(scalars["train/lr"][step], static_cast<float>(train[step]["lr"].get<double>()));
    EXPECT_EQ(scalars["train/lr_group_0"][step], static_cast<float>(train[step]["lr_group_0"].get<double>()));
    EXPECT_TRUE(scalars["train/grad_norm"].count(step));
    EXPECT_TRUE(scalars["train/tokens_per_s"].count(step));
    EXPECT_TRUE(scalars["train/peak_rss_bytes"].count(step));
  }
  ASSERT_EQ(scalars["eval/loss"].size(), 1u);
  EXPECT_EQ(scalars["eval/loss"][4], static_cast<float>(*eval_loss));
  EXPECT_EQ(scalars.count("train/mfu"), std::getenv("KILN_PEAK_FLOPS") ? 1u : 0u);
}

}  // namespace
}  // namespace kiln
