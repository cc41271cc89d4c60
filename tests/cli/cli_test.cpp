// The kiln executable end to end: exit codes, messages on stderr, files written or not written.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "support/run_command.h"
#include "support/temp_dir.h"

namespace kiln {
namespace {

using testing::TempDir;

using Result = testing::CommandResult;

Result kiln(const std::string& args, const std::string& env = "") {
  return testing::run_command((env.empty() ? "" : "env " + env + " ") + std::string(KILN_BINARY) + " " + args);
}

std::string config(const std::string& name) { return std::string(KILN_SOURCE_DIR) + "/configs/" + name + ".yml"; }
std::string neox(const std::string& name) { return std::string(KILN_SHARED_DIR) + "/reference/configs/" + name; }

void expect_no_crash_dump(const Result& r) {
  for (const char* s : {"terminate called", "Aborted", "what():", "Segmentation"})
    EXPECT_EQ(r.output.find(s), std::string::npos) << r.output;
}

TEST(Cli, HelpForEverySubcommand) {
  Result top = kiln("--help");
  EXPECT_EQ(top.code, 0);
  for (const char* sub : {"train", "plan", "config", "version"}) EXPECT_NE(top.output.find(sub), std::string::npos);
  for (const char* sub : {"train", "plan", "config", "config show", "config check", "config reference",
                          "config import-neox", "version"}) {
    Result r = kiln(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub << ": " << r.output;
  }
  EXPECT_EQ(kiln("").code, 2);
  EXPECT_EQ(kiln("frobnicate").code, 2);
}

TEST(Cli, PlanPrintsPublishedCounts) {
  Result r = kiln("plan " + config("stablelm-2-1_6b"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("1,644,417,024"), std::string::npos) << r.output;
  r = kiln("plan " + config("stablelm-3b-4e1t"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2,795,443,200"), std::string::npos) << r.output;
  r = kiln("plan --json " + config("tiny"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.front(), '{') << "stdout holds only the JSON: " << r.output;
}

TEST(Cli, MisspeltKeyFailsWithLocationAndSuggestion) {
  TempDir dir;
  auto f = dir.write("bad.yml", "base: " + config("tiny") + "\noptimizer:\n  weight_decy: 0.1\n");
  Result r = kiln("plan " + f.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find(f.string() + ":3:3: unknown key 'optimizer.weight_decy'; did you mean "
                          "'optimizer.weight_decay'?"),
            std::string::npos)
      << r.output;
  expect_no_crash_dump(r);
  r = kiln("plan " + config("tiny") + " --set optimizer.lr=fast");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--set optimizer.lr=fast: optimizer.lr: expected a number"), std::string::npos) << r.output;
  r = kiln("plan /nonexistent.yml");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("/nonexistent.yml"), std::string::npos) << r.output;
}

TEST(Cli, ImportNeoxGivesAConfigThatPlansLikeTheShippedOne) {
  TempDir dir;
  const auto out = dir.path() / "lm2.yml";
  Result r = kiln("config import-neox " + neox("stablelm-2-1_6b.yml") + " -o " + out.string() +
                  " --set model.qkv_bias=true --set model.final_norm_bias=true");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ignored"), std::string::npos) << "one warning lists the ignored keys: " << r.output;
  EXPECT_NE(r.output.find("wandb_host"), std::string::npos) << r.output;
  Result imported = kiln("plan " + out.string());
  Result shipped = kiln("plan " + config("stablelm-2-1_6b"));
  ASSERT_EQ(imported.code, 0) << imported.output;
  EXPECT_NE(imported.output.find("1,644,417,024"), std::string::npos);
  // The first line names the run; everything after it must agree.
  auto body = [](const std::string& s) { return s.substr(s.find('\n')); };
  EXPECT_EQ(body(imported.output), body(shipped.output));
}

TEST(Cli, RefusedImportWritesNothing) {
  TempDir dir;
  auto f = dir.write("neox.yml", "{\n  \"num-layers\": 2,\n  \"hidden-dropout\": 0.1,\n}\n");
  const auto out = dir.path() / "out.yml";
  Result r = kiln("config import-neox " + f.string() + " -o " + out.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("hidden"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
  expect_no_crash_dump(r);
}

TEST(Cli, ShowPrintsTheResolvedConfigWhichLoadsBack) {
  TempDir dir;
  Result r = kiln("config show " + config("btlm-3b-8k-stage2") + " --set optimizer.lr=0.01");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("seq_length: 8192"), std::string::npos);
  EXPECT_NE(r.output.find("lr: 0.01"), std::string::npos);
  EXPECT_NE(r.output.find("grad_accum: 480"), std::string::npos) << "derived values are shown";
  auto f = dir.write("resolved.yml", r.output);
  Result again = kiln("config show " + f.string());
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(again.output.substr(again.output.find("model:")), r.output.substr(r.output.find("model:")));
  EXPECT_EQ(kiln("config check " + f.string()).code, 0);
}

TEST(Cli, TrainWritesARunDirectoryOnlyForARunThatStarts) {
  TempDir dir;
  const std::string out = " --set train.output_dir=" + dir.path().string();
  Result dry = kiln("train --dry-run " + config("tiny-synthetic") + out);
  EXPECT_EQ(dry.code, 0) << dry.output;
  EXPECT_NE(dry.output.find("name: tiny-synthetic"), std::string::npos);
  EXPECT_NE(dry.output.find("data: ok"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("would start a new run in " + dir.path().string() + "/tiny-synthetic"), std::string::npos)
      << dry.output;
  // A dry run opens the data as the run would: a missing tokenizer or shard is exit 2, named.
  Result dry_missing = kiln("train --dry-run " + config("tiny") + out + " --set data.tokenizer=" +
                            dir.path().string() + "/tok.json");
  EXPECT_EQ(dry_missing.code, 2) << dry_missing.output;
  EXPECT_NE(dry_missing.output.find("data: cannot read tokenizer " + dir.path().string() + "/tok.json"),
            std::string::npos) << dry_missing.output;
  Result bad = kiln("train " + config("tiny") + out + " --set batch.global_batch=7");
  EXPECT_EQ(bad.code, 2) << bad.output;
  Result no_tokenizer = kiln("train " + config("tiny") + out + " --set data.tokenizer=" + dir.path().string() + "/tok.json");
  EXPECT_EQ(no_tokenizer.code, 1) << no_tokenizer.output;
  EXPECT_NE(no_tokenizer.output.find("tok.json"), std::string::npos) << no_tokenizer.output;
  Result no_data = kiln("train " + config("tiny-synthetic") + out + " --set data.format=mmap --set data.train_paths=[" +
                        dir.path().string() + "/none]");
  EXPECT_EQ(no_data.code, 1) << no_data.output;
  EXPECT_NE(no_data.output.find("none"), std::string::npos) << "the missing shard is named: " << no_data.output;
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "nothing half-made is left behind";

  const std::string short_run = "train " + config("tiny-synthetic") + out + " --set train.name=tiny --set train.steps=4 --set schedule.warmup_steps=1 " +
                                "--set schedule.cooldown_steps=0 --set logging.interval=2";
  Result train = kiln(short_run);
  ASSERT_EQ(train.code, 0) << train.output;
  EXPECT_NE(train.output.find("step      4/4  loss"), std::string::npos) << train.output;
  const auto run = dir.path() / "tiny";
  for (const char* f : {"config.yml", "metrics.jsonl", "train.log"})
    EXPECT_TRUE(std::filesystem::exists(run / f)) << f;
  std::ifstream metrics(run / "metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  EXPECT_EQ(lines, 4) << "steps 1, 2 and 4, and the final evaluation";
  EXPECT_TRUE(std::filesystem::exists(run / "checkpoints" / "step-00000004")) << "the last step is saved";
  // The same command again resumes from that checkpoint: the run is complete, nothing to train.
  Result again = kiln(short_run);
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("resumed from"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("the run is complete"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("/4  loss"), std::string::npos) << "no step ran again: " << again.output;
  // Without resuming, the directory is never reused.
  Result fresh = kiln(short_run + " --set checkpoint.resume=none");
  EXPECT_EQ(fresh.code, 1) << fresh.output;
  EXPECT_NE(fresh.output.find("already holds a run"), std::string::npos) << fresh.output;
  // --dry-run says each of these before anything runs.
  const std::string dry_run = "train --dry-run" + short_run.substr(std::string("train").size());
  Result dry_complete = kiln(dry_run);
  EXPECT_EQ(dry_complete.code, 0) << dry_complete.output;
  EXPECT_NE(dry_complete.output.find("would train nothing: " + run.string() + " is complete at step 4"),
            std::string::npos) << dry_complete.output;
  Result dry_resume = kiln(dry_run + " --set train.steps=6");
  EXPECT_NE(dry_resume.output.find("would resume " + run.string() + " from step 4"), std::string::npos)
      << dry_resume.output;
  Result dry_fresh = kiln(dry_run + " --set checkpoint.resume=none");
  EXPECT_EQ(dry_fresh.code, 2) << dry_fresh.output;
  EXPECT_NE(dry_fresh.output.find("would refuse " + run.string()), std::string::npos) << dry_fresh.output;
}

// kiln runs OpenMP with the passive wait policy unless told otherwise (cli/openmp_defaults.h), and
// the run's log says which policy and how many threads; a log line carries ms/step and the ETA.
TEST(Cli, TrainLogsItsThreadsAndWaitPolicyAndPassiveIsTheDefault) {
  TempDir dir;
  const std::string run = "train " + config("tiny-synthetic") + " --set train.output_dir=" + dir.path().string() +
                          " --set train.steps=2 --set schedule.warmup_steps=1 --set schedule.cooldown_steps=0 " +
                          "--set train.eval_interval=0 --set logging.interval=1 --set train.name=";
  Result plain = kiln(run + "plain", "-u OMP_WAIT_POLICY OMP_NUM_THREADS=1");
  ASSERT_EQ(plain.code, 0) << plain.output;
  EXPECT_NE(plain.output.find("host threads: 1 OpenMP (OMP_NUM_THREADS 1), wait policy PASSIVE"), std::string::npos)
      << plain.output;
  EXPECT_NE(plain.output.find(" ms/step  elapsed "), std::string::npos) << plain.output;
  EXPECT_NE(plain.output.find("  ETA "), std::string::npos) << plain.output;
  Result chosen = kiln(run + "chosen", "OMP_WAIT_POLICY=active OMP_NUM_THREADS=1");
  ASSERT_EQ(chosen.code, 0) << chosen.output;
  EXPECT_NE(chosen.output.find("wait policy active"), std::string::npos) << "the user's choice stands: " << chosen.output;
}

TEST(Cli, UnknownCommandIsNamedWithTheClosestAndVersionAndLogLevelWorkAnywhere) {
  Result typo = kiln("trian " + config("tiny"));
  EXPECT_EQ(typo.code, 2) << typo.output;
  EXPECT_NE(typo.output.find("unknown command 'trian' (did you mean 'train'?)"), std::string::npos) << typo.output;
  Result after_option = kiln("--log-level warn pln " + config("tiny"));
  EXPECT_NE(after_option.output.find("unknown command 'pln' (did you mean 'plan'?)"), std::string::npos)
      << after_option.output;
  Result version = kiln("--version");
  EXPECT_EQ(version.code, 0) << version.output;
  EXPECT_EQ(version.output.rfind("kiln 0.", 0), 0u) << version.output;
  Result late = kiln("plan " + config("tiny") + " --log-level warn");
  EXPECT_EQ(late.code, 0) << "--log-level after the subcommand: " << late.output;
  Result bad = kiln("plan " + config("tiny") + " --log-level loud");
  EXPECT_EQ(bad.code, 2) << bad.output;
}

TEST(Cli, BadGlobalOptionsStopBeforeTheCommandRuns) {
  Result level = kiln("--log-level loud version");
  EXPECT_EQ(level.code, 2) << level.output;
  EXPECT_EQ(level.output.find("HDF5"), std::string::npos) << "version must not run: " << level.output;
  Result rank = kiln("version", "PMI_RANK=x");
  EXPECT_EQ(rank.code, 1) << rank.output;
  EXPECT_NE(rank.output.find("PMI_RANK"), std::string::npos) << rank.output;
  EXPECT_EQ(rank.output.find("HDF5"), std::string::npos) << "version must not run: " << rank.output;
}

TEST(Cli, VersionNamesTheBuild) {
  Result r = kiln("version");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("HDF5"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CUDA"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kiln
