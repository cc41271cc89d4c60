// kiln import-hf / export-hf as a user runs them: the round trip, and the exit code and message
// for input that cannot cross over.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "hf/hf_model.h"
#include "hf_test_support.h"
#include "support/error_text.h"
#include "support/temp_dir.h"

namespace kiln::hf {
namespace {

using kiln::testing::contains;
using kiln::testing::TempDir;
using namespace kiln::hf::testing;

// Runs `kiln ARGS`, returning its exit code; stdout and stderr go to `log`.
int kiln(const std::string& args, const std::filesystem::path& log) {
  const std::string cmd = std::string(KILN_BINARY) + " " + args + " > '" + log.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(HfCli, ImportThenExportRoundTrips) {
  TempDir tmp;
  const auto log = tmp.path() / "log";
  const auto fixture = fixture_dir("stablelm_parallel");
  ASSERT_EQ(kiln("import-hf '" + fixture.string() + "' -o '" + (tmp.path() / "ckpt").string() + "'", log), 0) << text(log);
  EXPECT_TRUE(contains(text(log), "kiln train"));
  ASSERT_EQ(kiln("export-hf '" + (tmp.path() / "ckpt" / "step-00000000").string() + "' -o '" +
                     (tmp.path() / "hf").string() + "' --dtype fp32 --max-shard-mb 0",
                 log),
            0)
      << text(log);
  const HfModel a = read_hf_model(fixture), b = read_hf_model(tmp.path() / "hf");
  EXPECT_EQ(a.params, b.params);
}

// export-hf finds the checkpoint from a checkpoint directory, its `latest` or a run directory
// (the folder holding checkpoints/), and a path that is none lists the checkpoints that exist.
TEST(HfCli, ExportTakesACheckpointDirectoryLatestOrARunDirectory) {
  TempDir tmp;
  const auto log = tmp.path() / "log";
  const auto run = tmp.path() / "run";
  ASSERT_EQ(kiln("import-hf '" + fixture_dir("stablelm_parallel").string() + "' -o '" + (run / "checkpoints").string() +
                     "'", log), 0) << text(log);
  const HfModel want = read_hf_model(fixture_dir("stablelm_parallel"));
  int n = 0;
  for (const auto& given : {run, run / "checkpoints", run / "checkpoints" / "latest"}) {
    const auto out = tmp.path() / ("hf" + std::to_string(n++));
    ASSERT_EQ(kiln("export-hf '" + given.string() + "' -o '" + out.string() + "' --dtype fp32", log), 0)
        << given << ": " << text(log);
    EXPECT_TRUE(contains(text(log), "step-00000000")) << "names the checkpoint it took: " << text(log);
    EXPECT_EQ(read_hf_model(out).params, want.params) << given;
  }
  EXPECT_EQ(kiln("export-hf '" + (run / "checkpoints" / "step-00000200").string() + "' -o '" +
                     (tmp.path() / "nope").string() + "'", log), 2);
  EXPECT_TRUE(contains(text(log), "step-00000200 does not exist; checkpoints in")) << text(log);
  EXPECT_TRUE(contains(text(log), ": step-00000000")) << "the ones that do exist are listed: " << text(log);
  EXPECT_EQ(kiln("export-hf '" + tmp.path().string() + "' -o '" + (tmp.path() / "nope").string() + "'", log), 2);
  EXPECT_TRUE(contains(text(log), "neither a checkpoint")) << text(log);
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "nope")) << "a refused export writes nothing";
}

TEST(HfCli, UnsupportedConfigKeyExitsWithBadInputNamingIt) {
  TempDir tmp;
  const auto dir = tmp.path() / "model";
  std::filesystem::create_directories(dir);
  std::filesystem::copy(fixture_dir("llama"), dir);
  std::string config = text(dir / "config.json");
  config.insert(config.find('{') + 1, "\"sliding_window\": 4096, ");
  std::ofstream(dir / "config.json") << config;
  const auto log = tmp.path() / "log";
  EXPECT_EQ(kiln("import-hf '" + dir.string() + "' -o '" + (tmp.path() / "ckpt").string() + "'", log), 2);
  EXPECT_TRUE(contains(text(log), "sliding_window: 4096"));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "ckpt" / "step-00000000"));
}

}  // namespace
}  // namespace kiln::hf
