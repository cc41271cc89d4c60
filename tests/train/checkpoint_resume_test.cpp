// Checkpoints from the trainer's side: a resumed run is bit-identical to the uninterrupted one on
// the CPU backend; a changed schedule takes effect after resume; a checkpoint from other data is
// refused; SIGTERM saves and stops, and the same command then finishes the run; without
// save_on_signal SIGTERM stops without saving; save_final: false skips the last save.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "config/loader.h"
#include "support/child_process.h"
#include "support/error_text.h"
#include "support/temp_dir.h"
#include "train/trainer.h"

namespace kiln {
namespace {

Config tiny(std::vector<Override> overrides) {
  overrides.insert(overrides.begin(), {{"train.steps", "12"},
                                       {"train.eval_interval", "0"},
                                       {"schedule.warmup_steps", "2"},
                                       {"schedule.cooldown_steps", "4"},
                                       {"checkpoint.interval", "5"},
                                       {"checkpoint.keep_last", "5"}});
  return load_config(std::string(KILN_SOURCE_DIR) + "/configs/tiny-synthetic.yml", overrides).config;
}

struct Result {
  TrainSummary summary;
  std::vector<float> params;
};

Result run(const Config& c, const std::filesystem::path& ckpt_dir, const std::filesystem::path& resume = {}) {
  Trainer t(c);
  Result r{t.run(RunOptions{{}, ckpt_dir, resume}), {}};
  r.params.assign(t.params().begin(), t.params().end());
  return r;
}

TEST(CheckpointResume, ResumedRunIsBitIdenticalToTheUninterruptedOne) {
  for (const char* precision : {"bf16", "fp32"}) {
    testing::TempDir dir;
    const Config c = tiny({{"train.precision", precision}});
    const Result full = run(c, dir.path() / "full");
    ASSERT_TRUE(std::filesystem::exists(dir.path() / "full" / "step-00000005")) << precision;
    const Result resumed = run(c, dir.path() / "resumed", dir.path() / "full" / "step-00000005");
    EXPECT_EQ(resumed.summary.first_step, 5);
    ASSERT_EQ(resumed.summary.losses.size(), 7u);
    for (size_t i = 0; i < 7; ++i)
      EXPECT_EQ(resumed.summary.losses[i], full.summary.losses[i + 5]) << precision << " step " << i + 6;
    EXPECT_EQ(resumed.params, full.params) << precision << ": final parameters bit for bit";
    EXPECT_EQ(resumed.summary.data_state, full.summary.data_state);
  }
}

TEST(CheckpointResume, AChangedScheduleTakesEffectAfterResume) {
  testing::TempDir dir;
  const Result full = run(tiny({}), dir.path() / "a");
  // Same run, resumed at step 5 with ten times the peak lr: the first resumed step already differs.
  const Result changed = run(tiny({{"optimizer.lr", "3.0e-2"}}), dir.path() / "b", dir.path() / "a" / "step-00000005");
  EXPECT_EQ(changed.summary.losses[0], full.summary.losses[5]) << "step 6's loss is computed before the update";
  EXPECT_NE(changed.summary.losses[1], full.summary.losses[6]) << "step 7 sees step 6's update at the new lr";
  EXPECT_NE(changed.params, full.params);
}

TEST(CheckpointResume, ACheckpointFromOtherDataIsRefused) {
  testing::TempDir dir;
  run(tiny({}), dir.path() / "a");
  const std::string m = testing::error_of(
      [&] { run(tiny({{"data.seed", "99"}}), dir.path() / "b", dir.path() / "a" / "step-00000005"); });
  EXPECT_TRUE(testing::contains(m, "other training data")) << m;
}

TEST(CheckpointResume, BranchStartsFromTheWeightsWithItsOwnScheduleAndData) {
  testing::TempDir dir;
  const Result base = run(tiny({}), dir.path() / "base");
  const auto from = (dir.path() / "base" / "step-00000012").string();
  // A new run with another schedule; weights only, then with the optimizer state. (The data seed
  // stays: the synthetic language itself is drawn from it, and another language would hide what
  // the weights learnt.)
  const std::vector<Override> branch{{"schedule.style", "cosine"}, {"checkpoint.init_from", from}};
  Trainer weights_only(tiny(branch));
  RunOptions o;
  o.init_from = from;
  const TrainSummary b = weights_only.run(o);
  EXPECT_EQ(b.first_step, 0) << "a branch starts at step 0";
  EXPECT_EQ(b.steps, 12);
  EXPECT_LT(b.first_loss, base.summary.first_loss - 0.5) << "its first step already uses the trained weights";
  o.init_optimizer = true;
  auto with_opt = branch;
  with_opt.push_back({"checkpoint.init_optimizer", "true"});
  const TrainSummary c = Trainer(tiny(with_opt)).run(o);
  EXPECT_EQ(c.first_loss, b.first_loss) << "the same weights and batch give the same first loss";
  EXPECT_NE(c.final_loss, b.final_loss) << "the Adam moments change the updates";
}

using testing::last_line;
using testing::spawn;
using testing::wait_exit;
using testing::wait_for_step;

std::vector<std::string> kiln_train_args(const std::string& out, const std::string& name) {
  return {KILN_BINARY, "train", std::string(KILN_SOURCE_DIR) + "/configs/tiny-synthetic.yml",
          "--set", "train.steps=40", "--set", "train.eval_interval=0",
          "--set", "schedule.warmup_steps=5", "--set", "schedule.cooldown_steps=10",
          "--set", "checkpoint.interval=0", "--set", "logging.interval=1",
          "--set", "train.output_dir=" + out, "--set", "train.name=" + name};
}

// SIGTERM after a few steps saves a checkpoint and stops; the same command resumes from it and
// ends with the uninterrupted run's final loss.
TEST(CheckpointResume, SigtermSavesAndTheSameCommandFinishesTheRun) {
  testing::TempDir dir;
  const std::string out = (dir.path() / "runs").string();
  auto args_for = [&](const std::string& name) { return kiln_train_args(out, name); };

  ASSERT_EQ(wait_exit(spawn(args_for("straight"))), 0);
  const pid_t pid = spawn(args_for("interrupted"));
  const auto metrics = std::filesystem::path(out) / "interrupted" / "metrics.jsonl";
  ASSERT_TRUE(wait_for_step(metrics, 3)) << "the run never logged step 3";
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit(pid), 0) << "a stop after saving is not a failure";
  const auto ckpts = std::filesystem::path(out) / "interrupted" / "checkpoints";
  ASSERT_TRUE(std::filesystem::exists(ckpts / "latest")) << "SIGTERM saved a checkpoint";
  EXPECT_EQ(last_line(metrics).find("\"step\":40,"), std::string::npos) << "and stopped early";

  ASSERT_EQ(wait_exit(spawn(args_for("interrupted"))), 0) << "the same command resumes";
  auto loss_at_40 = [&](const std::string& name) {
    std::ifstream in(std::filesystem::path(out) / name / "metrics.jsonl");
    std::string line, found;
    while (std::getline(in, line))
      if (line.find("\"step\":40,") != std::string::npos && line.find("\"loss\"") != std::string::npos) found = line;
    const auto at = found.find("\"loss\":");
    return at == std::string::npos ? std::string("missing") : found.substr(at, found.find(',', at) - at);
  };
  EXPECT_EQ(loss_at_40("interrupted"), loss_at_40("straight"));
}

// Without save_on_signal, SIGTERM still stops the run at a step boundary, with exit 0 and without
// a checkpoint, and what the end of a run writes is written: here the op profile (a benchmark's
// reason to stop a run early).
TEST(CheckpointResume, SigtermWithoutSaveOnSignalStopsCleanlyAndWritesTheOpProfile) {
  testing::TempDir dir;
  const std::string out = (dir.path() / "runs").string();
  std::vector<std::string> args = kiln_train_args(out, "bench");
  args.insert(args.end(), {"--set", "checkpoint.save_on_signal=false", "--set", "train.steps=100000"});
  const pid_t pid = spawn(args, {"KILN_PROFILE_OPS=1"});
  const auto run = std::filesystem::path(out) / "bench";
  ASSERT_TRUE(wait_for_step(run / "metrics.jsonl", 3)) << "the run never logged step 3";
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit(pid), 0) << "a requested stop is not a failure";
  EXPECT_FALSE(std::filesystem::exists(run / "checkpoints" / "latest")) << "save_on_signal is false";
  ASSERT_TRUE(std::filesystem::exists(run / "op_profile.txt")) << "the op profile is written on a stop too";
  EXPECT_NE(last_line(run / "op_profile.txt").find("all ops"), std::string::npos) << last_line(run / "op_profile.txt");
}

// checkpoint.save_final: false keeps the interval's checkpoints and skips the one at the end.
TEST(CheckpointResume, SaveFinalFalseKeepsIntervalCheckpointsOnly) {
  testing::TempDir dir;
  const Result r = run(tiny({{"checkpoint.save_final", "false"}}), dir.path() / "ckpt");
  EXPECT_EQ(r.summary.steps, 12);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "ckpt" / "step-00000005"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "ckpt" / "step-00000010"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "ckpt" / "step-00000012")) << "no checkpoint at the end";
  testing::TempDir none;
  run(tiny({{"checkpoint.save_final", "false"}, {"checkpoint.interval", "0"}}), none.path() / "ckpt");
  EXPECT_FALSE(std::filesystem::exists(none.path() / "ckpt" / "latest"));
}

// Ctrl-C: the first SIGINT stops after the step with a checkpoint and exit 130, saying it was
// interrupted; the same command resumes. A second SIGINT right after the first aborts at once,
// saving nothing.
TEST(CheckpointResume, FirstSigintSavesAndExits130ASecondAborts) {
  testing::TempDir dir;
  const std::string out = (dir.path() / "runs").string();
  const auto run = std::filesystem::path(out) / "ctrl-c";
  pid_t pid = spawn(kiln_train_args(out, "ctrl-c"));
  ASSERT_TRUE(wait_for_step(run / "metrics.jsonl", 3)) << "the run never logged step 3";
  kill(pid, SIGINT);
  EXPECT_EQ(wait_exit(pid), 130) << "an interrupted run exits as shells expect after Ctrl-C";
  EXPECT_TRUE(std::filesystem::exists(run / "checkpoints" / "latest")) << "the first SIGINT saves";
  EXPECT_NE(testing::read_file(run / "train.log").find("interrupted by SIGINT (Ctrl-C); checkpoint saved"),
            std::string::npos) << testing::read_file(run / "train.log");
  ASSERT_EQ(wait_exit(spawn(kiln_train_args(out, "ctrl-c"))), 0) << "the same command finishes the run";
  EXPECT_NE(last_line(run / "metrics.jsonl").find("\"step\":40,"), std::string::npos);

  // Steps long enough (a wider model) for the second SIGINT to land inside the step after the
  // first one was handled (two signals sent together would merge into one).
  std::vector<std::string> args = kiln_train_args(out, "twice");
  args.insert(args.end(), {"--set", "train.steps=100000", "--set", "model.hidden_size=512", "--set",
                           "model.num_heads=8", "--set", "model.num_layers=4"});
  const auto said = dir.path() / "twice.out";
  pid = spawn(args, {}, said);
  ASSERT_TRUE(wait_for_step(std::filesystem::path(out) / "twice" / "metrics.jsonl", 2));
  kill(pid, SIGINT);
  for (int i = 0; i < 200 && testing::read_file(said).find("press Ctrl-C again") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGINT);
  const testing::Ending e = testing::wait_ending(pid);
  EXPECT_EQ(e.signal, SIGINT) << "the second SIGINT has its default action (exit " << e.exit_code << ")";
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(out) / "twice" / "checkpoints" / "latest"));
}

// Provenance: the run's recorded config is never overwritten. A rerun of a complete run with
// another lr trains nothing, keeps config.yml byte for byte and says the change does not apply; a
// resume with more steps lists the keys that differ from the checkpoint's config and the lr change,
// and records its config as the segment's own file.
TEST(CheckpointResume, AResumeNeverOverwritesTheRecordedConfig) {
  testing::TempDir dir;
  const std::string out = (dir.path() / "runs").string();
  const auto run = std::filesystem::path(out) / "prov";
  auto args_with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = kiln_train_args(out, "prov");
    a.insert(a.end(), {"--set", "train.steps=12", "--set", "schedule.cooldown_steps=2"});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ASSERT_EQ(wait_exit(spawn(args_with({}))), 0);
  const std::string recorded = testing::read_file(run / "config.yml");

  ASSERT_EQ(wait_exit(spawn(args_with({"--set", "optimizer.lr=3e-4"}))), 0);
  EXPECT_EQ(testing::read_file(run / "config.yml"), recorded) << "a complete run's config.yml is left as it is";
  std::string log = testing::read_file(run / "train.log");
  EXPECT_NE(log.find("optimizer.lr: 0.003 → 3.0e-04"), std::string::npos) << log;
  EXPECT_NE(log.find("none of this applies: the run is complete at step 12"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(run / "config-from-step-00000012.yml"));

  ASSERT_EQ(wait_exit(spawn(args_with({"--set", "train.steps=20"}))), 0);
  EXPECT_EQ(testing::read_file(run / "config.yml"), recorded);
  log = testing::read_file(run / "train.log");
  EXPECT_NE(log.find("differs from the checkpoint's in 2 keys"), std::string::npos) << log;
  EXPECT_NE(log.find("train.steps: 12 → 20"), std::string::npos) << log;
  EXPECT_NE(log.find("schedule.decay_steps: 12 → 20"), std::string::npos) << log;
  EXPECT_NE(log.find("the learning rate of update 13 is"), std::string::npos) << log;
  const std::string segment = testing::read_file(run / "config-from-step-00000012.yml");
  EXPECT_NE(segment.find("steps: 20"), std::string::npos) << segment;

}

}  // namespace
}  // namespace kiln
