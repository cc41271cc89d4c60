// kiln import-hf / export-hf as a user runs them: the round trip, and the exit code and message
// for input that cannot cross over.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

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

// The run's tokenizer travels with the export (tokenizer.json as it was, a tokenizer_config.json
// for AutoTokenizer) and supplies bos/eos (its <|endoftext|>: 998 in the fixture, made by kiln's
// BPE trainer and loaded by HF tokenizers in tokenizer_tests); import-hf carries config.json's
// eos_token_id into data.eod_token_id.
TEST(HfCli, TokenizerAndEndOfTextIdsCarryOverBothWays) {
  TempDir tmp;
  const auto log = tmp.path() / "log";
  const std::string tokenizer = std::string(KILN_SOURCE_DIR) + "/tests/fixtures/tokenizer/trained_tokenizer.json";
  ASSERT_EQ(kiln("train " + std::string(KILN_SOURCE_DIR) + "/configs/tiny-synthetic.yml --set model.vocab_size=1024 "
                 "--set data.tokenizer=" + tokenizer + " --set train.steps=2 --set schedule.warmup_steps=1 "
                 "--set schedule.cooldown_steps=0 --set train.eval_interval=0 --set train.output_dir=" +
                 tmp.path().string() + " --set train.name=tok", log), 0) << text(log);
  const auto out = tmp.path() / "hf";
  ASSERT_EQ(kiln("export-hf '" + (tmp.path() / "tok").string() + "' -o '" + out.string() + "'", log), 0) << text(log);
  EXPECT_EQ(text(out / "tokenizer.json"), text(tokenizer));
  const auto tc = nlohmann::json::parse(text(out / "tokenizer_config.json"));
  EXPECT_EQ(tc["eos_token"], "<|endoftext|>");
  EXPECT_EQ(tc["tokenizer_class"], "PreTrainedTokenizerFast");
  const auto config = nlohmann::json::parse(text(out / "config.json"));
  EXPECT_EQ(config["eos_token_id"], 998);
  EXPECT_EQ(config["bos_token_id"], 998);
  EXPECT_EQ(nlohmann::json::parse(text(out / "generation_config.json"))["eos_token_id"], 998);

  ASSERT_EQ(kiln("import-hf '" + fixture_dir("llama").string() + "' -o '" + (tmp.path() / "ckpt").string() + "'", log),
            0) << text(log);
  EXPECT_TRUE(contains(text(tmp.path() / "ckpt" / "config.yml"), "eod_token_id: 2")) << "llama's eos_token_id";
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
