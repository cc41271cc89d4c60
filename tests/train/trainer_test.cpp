// The single-process trainer on the tiny config: the loss falls on the synthetic language, runs are
// reproducible, and what this build cannot train is refused before anything is written.
#include "train/trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "config/loader.h"
#include "data/formats/document_store.h"
#include "support/temp_dir.h"
#include "train/run_dir.h"

namespace kiln {
namespace {

Config tiny(const std::vector<Override>& overrides) {
  return load_config(std::string(KILN_SOURCE_DIR) + "/configs/tiny-synthetic.yml", overrides).config;
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

TEST(Trainer, RecomputationTrainsTheSameBits) {
  const std::vector<Override> base = {{"train.steps", "6"}, {"train.eval_interval", "0"},
                                      {"schedule.warmup_steps", "2"}, {"schedule.cooldown_steps", "2"}};
  const TrainSummary keep = Trainer(tiny(base)).run();
  for (const std::vector<Override>& r : std::vector<std::vector<Override>>{
           {{"train.recompute", "full"}},
           {{"train.recompute", "selective"}},
           {{"train.recompute", "full"}, {"train.recompute_layers", "1"}}}) {
    std::vector<Override> o = base;
    o.insert(o.end(), r.begin(), r.end());
    EXPECT_EQ(Trainer(tiny(o)).run().losses, keep.losses) << r.back().text();
  }
}

TEST(Trainer, RefusesWhatThisBuildCannotTrain) {
  auto message = [](const std::vector<Override>& o) {
    try {
      Trainer t(tiny(o));
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  // Refused in every build, GPU or not: the CUDA backend trains in bf16 only.
  EXPECT_NE(message({{"train.device", "cuda"}, {"train.precision", "fp32"}}).find("with train.device = cuda"),
            std::string::npos);
#if !KILN_WITH_CUDA
  // A build without the CUDA backend says so (with the backend, tests/train/cuda covers cuda).
  EXPECT_NE(message({{"train.device", "cuda"}}).find("built without the CUDA backend"), std::string::npos);
#endif
  EXPECT_NE(message({{"parallel.data", "2"}}).find("launch with mpirun -n 2"), std::string::npos);
  EXPECT_NE(message({{"data.format", "mmap"}}).find("data.train_paths"), std::string::npos);
}

// A shard of counting documents (each token the previous plus one, modulo 500; token 511 is
// out of range when `poison` is set) for the trainer's shard path.
std::string write_counting_shard(const testing::TempDir& dir, bool poison = false) {
  const auto path = dir.path() / (poison ? "poisoned" : "counting");
  auto writer = create_document_writer(path, ShardFormat::mmap, 512);
  for (int d = 0; d < 200; ++d) {
    std::vector<int32_t> doc;
    for (int p = 0; p < 30 + d % 50; ++p) doc.push_back((d * 7 + p) % 500);
    if (poison && d == 150) doc[3] = 511;
    writer->add(doc);
  }
  writer->finish();
  return path.string();
}

TEST(Trainer, TrainsOnShardsReproduciblyAndReportsTheDataPosition) {
  testing::TempDir dir;
  const auto shard = write_counting_shard(dir);
  const Config c = tiny({{"data.format", "mmap"}, {"data.train_paths", "[" + shard + "]"}, {"train.steps", "12"},
                         {"train.eval_interval", "0"}, {"schedule.warmup_steps", "2"}, {"schedule.cooldown_steps", "0"}});
  const TrainSummary a = Trainer(c).run();
  const TrainSummary b = Trainer(c).run();
  EXPECT_EQ(a.final_loss, b.final_loss);
  ASSERT_TRUE(a.final_eval_loss.has_value()) << "validation carved from the shard by data.split";
  EXPECT_LT(a.final_loss, a.first_loss - 0.5) << "counting is easy to learn";
  EXPECT_EQ(a.data_state.next_sample, 12u * 8u) << "12 steps × global batch 8";
  EXPECT_EQ(a.data_state, b.data_state);
}

TEST(Trainer, ATokenOutsideTheVocabularyStopsTheRunNamingTheShard) {
  testing::TempDir dir;
  const auto shard = write_counting_shard(dir, /*poison=*/true);
  Trainer t(tiny({{"data.format", "mmap"}, {"data.train_paths", "[" + shard + "]"}, {"model.vocab_size", "500"},
                  {"train.steps", "200"}, {"train.eval_interval", "0"}, {"data.split", "[1, 0, 0]"}}));
  try {
    t.run();
    FAIL() << "the poisoned document is read within an epoch";
  } catch (const DataFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("poisoned"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("token 511"), std::string::npos) << e.what();
  }
}

TEST(RunDirectory, HoldsTheResolvedConfigAndIsNeverReused) {
  testing::TempDir dir;
  const Config c = tiny({{"train.output_dir", dir.path().string()}, {"train.name", "tiny"}});
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
