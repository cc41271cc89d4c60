// kiln sweep through the binary: runs both runs, skips them when complete, resumes an interrupted one.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/child_process.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

using Result = testing::CommandResult;

Result kiln(const std::string& args) { return testing::run_command(std::string(KILN_BINARY) + " " + args); }

// Training-loss records of `step` in a metrics file (evaluation records carry eval_loss instead).
size_t loss_records(const std::string& metrics, int step) {
  std::istringstream in(metrics);
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find("{\"step\":" + std::to_string(step) + ",") == 0 && line.find("\"loss\":") != std::string::npos) ++n;
  return n;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SweepCli, RunsSkipsAndResumes) {
  TempDir dir;
  const fs::path runs = dir.path() / "runs";
  const auto f = dir.write("s.yml", "base: " + std::string(KILN_SOURCE_DIR) +
                                        "/configs/tiny-synthetic.yml\nname: t\noutput_dir: " + runs.string() +
                                        "\nset: {train.steps: 4, schedule.warmup_steps: 1, schedule.cooldown_steps: 0, "
                                        "train.eval_interval: 0, checkpoint.interval: 2, logging.interval: 1}\n"
                                        "grid:\n  optimizer.lr: [1e-3, 3e-3]\n");
  Result dry = kiln("sweep --dry-run " + f.string());
  ASSERT_EQ(dry.code, 0) << dry.output;
  EXPECT_NE(dry.output.find("[2/2] t-optimizer.lr=3e-3"), std::string::npos) << dry.output;
  EXPECT_FALSE(fs::exists(runs)) << "a dry run writes nothing";

  Result first = kiln("sweep " + f.string());
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_NE(first.output.find("[1/2] t-optimizer.lr=1e-3 … done in"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("[2/2] t-optimizer.lr=3e-3 … done in"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("final loss"), std::string::npos) << first.output;
  const fs::path b = runs / "t-optimizer.lr=3e-3";
  EXPECT_TRUE(fs::exists(b / "config.yml"));
  EXPECT_TRUE(fs::exists(b / "sweep.log"));

  Result again = kiln("sweep " + f.string());
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(count(again.output, "skipped: complete"), 2u) << again.output;

  // Interrupt run 2 after its step-2 checkpoint: the step-4 checkpoint and the metrics after step 2 never were.
  std::vector<fs::path> ckpts;
  for (const auto& e : fs::directory_iterator(b / "checkpoints"))
    if (e.is_directory()) ckpts.push_back(e.path());
  std::sort(ckpts.begin(), ckpts.end());
  ASSERT_EQ(ckpts.size(), 2u);
  fs::remove_all(ckpts.back());
  if (fs::exists(b / "checkpoints/latest")) std::ofstream(b / "checkpoints/latest") << ckpts.front().filename().string() << "\n";
  std::string kept;
  {
    std::ifstream in(b / "metrics.jsonl");
    for (std::string line; std::getline(in, line);)
      if (line.find("\"step\":1,") != std::string::npos || line.find("\"step\":2,") != std::string::npos)
        kept += line + "\n";
  }
  ASSERT_EQ(count(kept, "\n"), 2u) << kept;
  std::ofstream(b / "metrics.jsonl") << kept;

  Result resumed = kiln("sweep " + f.string());
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("[1/2] t-optimizer.lr=1e-3 … skipped: complete"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("[2/2] t-optimizer.lr=3e-3 … resuming after step 2 … done in"), std::string::npos)
      << resumed.output;
  const std::string metrics = testing::read_file(b / "metrics.jsonl");
  EXPECT_EQ(loss_records(metrics, 1), 1u) << "resumed, not restarted: " << metrics;
  EXPECT_EQ(loss_records(metrics, 2), 1u) << metrics;
  EXPECT_EQ(loss_records(metrics, 3), 1u) << metrics;
  EXPECT_EQ(loss_records(metrics, 4), 1u) << metrics;
  EXPECT_NE(testing::read_file(b / "sweep.log").find("resumed from"), std::string::npos);

  Result only = kiln("sweep --only nope " + f.string());
  EXPECT_EQ(only.code, 2) << only.output;
  EXPECT_NE(only.output.find("no run named 'nope'"), std::string::npos) << only.output;
}

TEST(SweepCli, AFailingRunIsReportedAndTheSweepGoesOn) {
  TempDir dir;
  const auto f = dir.write("s.yml", "base: " + std::string(KILN_SOURCE_DIR) +
                                        "/configs/tiny-synthetic.yml\nname: f\noutput_dir: " +
                                        (dir.path() / "runs").string() +
                                        "\nset: {train.steps: 4, schedule.warmup_steps: 1, schedule.cooldown_steps: 0, "
                                        "train.eval_interval: 0}\n"
                                        "list:\n  - {name: broken, checkpoint.init_from: /nonexistent}\n"
                                        "  - {name: fine}\n");
  Result r = kiln("sweep " + f.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("[1/2] broken … FAILED (exit 1)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[2/2] fine … done in"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 trained, 0 skipped, 1 failed"), std::string::npos) << r.output;
  EXPECT_NE(testing::read_file(dir.path() / "runs/broken/sweep.log").find("/nonexistent"), std::string::npos);
}

// Ctrl-C on kiln sweep: the running child gets the SIGINT once (it saves a checkpoint and stops),
// no further run starts, the sweep says so and exits 130; the same command then resumes the
// interrupted run and trains the other.
TEST(SweepCli, SigintStopsTheRunningRunWithACheckpointAndStartsNoOther) {
  TempDir dir;
  const fs::path runs = dir.path() / "runs";
  const auto f = dir.write("s.yml", "base: " + std::string(KILN_SOURCE_DIR) +
                                        "/configs/tiny-synthetic.yml\nname: c\noutput_dir: " + runs.string() +
                                        "\nset: {train.steps: 60, schedule.warmup_steps: 1, schedule.cooldown_steps: 0, "
                                        "train.eval_interval: 0, checkpoint.interval: 0, logging.interval: 1}\n"
                                        "list:\n  - {name: first}\n  - {name: second}\n");
  const fs::path output = dir.path() / "sweep.out";
  const pid_t pid = testing::spawn({KILN_BINARY, "sweep", f.string()}, {}, output);
  ASSERT_TRUE(testing::wait_for_step(runs / "first" / "metrics.jsonl", 3)) << testing::read_file(output);
  kill(pid, SIGINT);
  EXPECT_EQ(testing::wait_exit(pid), 130) << testing::read_file(output);
  const std::string text = testing::read_file(output);
  EXPECT_NE(text.find("[1/2] first … interrupted after"), std::string::npos) << text;
  EXPECT_NE(text.find("sweep: interrupted (SIGINT): 0 trained, 0 skipped, 0 failed, 2 not finished"),
            std::string::npos) << text;
  EXPECT_TRUE(fs::exists(runs / "first" / "checkpoints" / "latest")) << "the child saved on the SIGINT it was passed";
  EXPECT_FALSE(fs::exists(runs / "second" / "metrics.jsonl")) << "no run starts after an interrupt";
  EXPECT_NE(testing::read_file(runs / "first" / "sweep.log").find("interrupted by SIGINT"), std::string::npos);

  Result again = kiln("sweep " + f.string());
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("[1/2] first … resuming after step"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("2 trained, 0 skipped, 0 failed"), std::string::npos) << again.output;
}

// On a terminal (here a pseudo-terminal from util-linux's `script`) the running run's progress is
// a live line, rewritten in place and replaced by the result; in a log it is not printed.
TEST(SweepCli, ATerminalGetsALiveProgressLine) {
  if (testing::run_command("command -v script").code != 0) GTEST_SKIP() << "no `script` to make a terminal";
  TempDir dir;
  const auto f = dir.write("s.yml", "base: " + std::string(KILN_SOURCE_DIR) +
                                        "/configs/tiny-synthetic.yml\nname: l\noutput_dir: " +
                                        (dir.path() / "runs").string() +
                                        "\nset: {train.steps: 120, schedule.warmup_steps: 1, schedule.cooldown_steps: 0, "
                                        "train.eval_interval: 0, logging.interval: 5}\nlist:\n  - {name: live}\n");
  Result tty = testing::run_command("script -qec '" + std::string(KILN_BINARY) + " sweep " + f.string() + "' /dev/null");
  ASSERT_EQ(tty.code, 0) << tty.output;
  EXPECT_NE(tty.output.find("\r\033[K[1/1] live … step "), std::string::npos) << tty.output;
  EXPECT_NE(tty.output.find("\r\033[K[1/1] live … done in"), std::string::npos) << tty.output;
  Result logged = kiln("sweep " + f.string());
  EXPECT_EQ(logged.output.find("\033[K"), std::string::npos) << "no terminal codes in a log: " << logged.output;
}

TEST(SweepCli, BadSweepExits2AndSlurmWritesAnArray) {
  TempDir dir;
  const std::string base = "base: " + std::string(KILN_SOURCE_DIR) + "/configs/tiny-synthetic.yml\n";
  const auto bad = dir.write("bad.yml", base + "name: b\ngrid:\n  optimizer.lrr: [1, 2]\n");
  Result r = kiln("sweep " + bad.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("did you mean 'optimizer.lr'?"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("config errors (2)"), std::string::npos) << r.output;

  const auto good = dir.write("good.yml", base + "name: g\noutput_dir: " + (dir.path() / "runs").string() +
                                              "\ngrid:\n  optimizer.lr: [1e-3, 3e-3, 1e-2]\n");
  const fs::path out = dir.path() / "g.sbatch";
  r = kiln("sweep " + good.string() + " --slurm " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string script = testing::read_file(out);
  EXPECT_NE(script.find("#SBATCH --array=0-2"), std::string::npos) << script;
  EXPECT_EQ(count(script, " train '"), 3u) << script;
  EXPECT_FALSE(fs::exists(dir.path() / "runs")) << "--slurm trains nothing";
}

}  // namespace
}  // namespace kiln
