#include "log/log.h"

#include "support/temp_dir.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace kiln {
namespace {

namespace fs = std::filesystem;
using kiln::testing::read_file;

constexpr const char* kRankVariables[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK",
                                          "SLURM_PROCID"};

// The test process may itself run under a launcher; start every test from a clean environment
// and put the original back afterwards.
class RankEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kRankVariables) {
      if (const char* v = std::getenv(name)) saved_[name] = v;
      ::unsetenv(name);
    }
  }
  void TearDown() override {
    for (const char* name : kRankVariables) {
      auto it = saved_.find(name);
      if (it != saved_.end()) {
        ::setenv(name, it->second.c_str(), 1);
      } else {
        ::unsetenv(name);
      }
    }
  }
  std::map<std::string, std::string> saved_;
};

TEST_F(RankEnvTest, DefaultsToZero) { EXPECT_EQ(detect_rank(), 0); }

TEST_F(RankEnvTest, ReadsEachVariable) {
  int rank = 3;
  for (const char* name : kRankVariables) {
    SCOPED_TRACE(name);
    ::setenv(name, std::to_string(rank).c_str(), 1);
    EXPECT_EQ(detect_rank(), rank);
    ::unsetenv(name);
    ++rank;
  }
}

TEST_F(RankEnvTest, FirstVariableWins) {
  ::setenv("SLURM_PROCID", "0", 1);
  ::setenv("PMIX_RANK", "5", 1);
  EXPECT_EQ(detect_rank(), 5);
  ::setenv("OMPI_COMM_WORLD_RANK", "7", 1);
  EXPECT_EQ(detect_rank(), 7);
}

TEST_F(RankEnvTest, MalformedValueNamesVariable) {
  for (const char* bad : {"abc", "-1", "3x", "", " 2", "99999999999999999999"}) {
    SCOPED_TRACE(std::string("value '") + bad + "'");
    ::setenv("PMI_RANK", bad, 1);
    try {
      detect_rank();
      ADD_FAILURE() << "expected std::runtime_error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("PMI_RANK"), std::string::npos) << e.what();
    }
  }
}

// A malformed higher-priority variable is an error even if a later one is fine: silently falling
// through would give this process the wrong rank.
TEST_F(RankEnvTest, MalformedValueIsNotSkipped) {
  ::setenv("OMPI_COMM_WORLD_RANK", "x", 1);
  ::setenv("SLURM_PROCID", "1", 1);
  EXPECT_THROW(detect_rank(), std::runtime_error);
}

TEST(LogLevelTest, ParsesAndNamesEveryLevel) {
  for (LogLevel l : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn,
                     LogLevel::error}) {
    EXPECT_EQ(parse_log_level(log_level_name(l)), l);
  }
  EXPECT_EQ(parse_log_level("warn"), LogLevel::warn);
  EXPECT_EQ(log_level_name(LogLevel::error), "error");
}

TEST(LogLevelTest, RejectsUnknownListingAllowed) {
  for (const char* bad : {"warning", "INFO", "", "fatal"}) {
    try {
      parse_log_level(bad);
      ADD_FAILURE() << "expected std::invalid_argument for '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("trace, debug, info, warn, error"), std::string::npos)
          << e.what();
    }
  }
}

class LoggingTest : public ::testing::Test {
 protected:
  // Runs before tmp_ is destroyed, so the log file is closed before its directory goes.
  void TearDown() override {
    init_logging({});  // closes the test's log file
  }

  // True when `text` equals `shape` with each '0' of the shape standing for any digit.
  static bool matches_shape(const std::string& text, const std::string& shape) {
    if (text.size() != shape.size()) return false;
    for (size_t i = 0; i < text.size(); ++i) {
      bool ok = shape[i] == '0' ? std::isdigit(static_cast<unsigned char>(text[i])) != 0
                                : text[i] == shape[i];
      if (!ok) return false;
    }
    return true;
  }
  static bool has(const std::string& text, const std::string& what) {
    return text.find(what) != std::string::npos;
  }
  // One message per level, each naming its level so the file shows which got through.
  static void log_every_level() {
    spdlog::trace("msg-trace");
    spdlog::debug("msg-debug");
    spdlog::info("msg-info");
    spdlog::warn("msg-warn");
    spdlog::error("msg-error");
  }

  kiln::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
};

TEST_F(LoggingTest, NonZeroRankOnlyWarnsWithoutAllRanks) {
  LogOptions o;
  o.level = LogLevel::debug;
  o.rank = 1;
  o.world_size = 4;
  o.file = dir_ / "train.log";
  init_logging(o);
  log_every_level();
  std::string text = read_file(dir_ / "train.log");
  EXPECT_FALSE(has(text, "msg-trace")) << text;
  EXPECT_FALSE(has(text, "msg-debug")) << text;
  EXPECT_FALSE(has(text, "msg-info")) << text;
  EXPECT_TRUE(has(text, "msg-warn")) << text;
  EXPECT_TRUE(has(text, "msg-error")) << text;
  EXPECT_TRUE(has(text, "[rank 1]")) << text;
}

TEST_F(LoggingTest, NonZeroRankStillHonoursAStricterLevel) {
  LogOptions o;
  o.level = LogLevel::error;
  o.rank = 2;
  o.file = dir_ / "train.log";
  init_logging(o);
  log_every_level();
  std::string text = read_file(dir_ / "train.log");
  EXPECT_FALSE(has(text, "msg-warn")) << text;
  EXPECT_TRUE(has(text, "msg-error")) << text;
}

TEST_F(LoggingTest, AllRanksLogsAtLevelToRankSuffixedFile) {
  LogOptions o;
  o.level = LogLevel::debug;
  o.rank = 3;
  o.world_size = 4;
  o.all_ranks = true;
  o.file = dir_ / "train.log";
  init_logging(o);
  log_every_level();
  EXPECT_FALSE(fs::exists(dir_ / "train.log"));
  ASSERT_EQ(log_file_for_rank(o), dir_ / "train.rank3.log");
  std::string text = read_file(dir_ / "train.rank3.log");
  EXPECT_FALSE(has(text, "msg-trace")) << text;
  EXPECT_TRUE(has(text, "msg-debug")) << text;
  EXPECT_TRUE(has(text, "msg-info")) << text;
  EXPECT_TRUE(has(text, "[rank 3]")) << text;
}

TEST_F(LoggingTest, RankZeroSingleWorldHasNoRankTagAndTimestampedLines) {
  LogOptions o;
  o.level = LogLevel::info;
  o.file = dir_ / "train.log";
  init_logging(o);
  spdlog::debug("hidden");
  spdlog::info("hello {}", 42);
  std::string text = read_file(dir_ / "train.log");
  EXPECT_FALSE(has(text, "hidden")) << text;
  EXPECT_FALSE(has(text, "[rank")) << text;
  EXPECT_TRUE(matches_shape(text, "[0000-00-00 00:00:00.000] [info] hello 42\n")) << text;
}

TEST_F(LoggingTest, RankTagWhenWorldIsLargerOrAllRanks) {
  LogOptions o;
  o.file = dir_ / "a.log";
  o.world_size = 2;
  init_logging(o);
  spdlog::info("x");
  EXPECT_TRUE(has(read_file(dir_ / "a.log"), "] [rank 0] x")) << read_file(dir_ / "a.log");

  o.world_size = 1;
  o.all_ranks = true;
  init_logging(o);
  spdlog::info("y");
  EXPECT_TRUE(has(read_file(dir_ / "a.rank0.log"), "[rank 0] y"));
}

TEST_F(LoggingTest, ReinitialisationSwitchesFilesAndAppends) {
  LogOptions o;
  o.file = dir_ / "one.log";
  init_logging(o);
  spdlog::info("first");
  o.file = dir_ / "two.log";
  init_logging(o);
  spdlog::info("second");
  o.file = dir_ / "one.log";
  init_logging(o);
  spdlog::info("third");
  init_logging(o);  // same options twice
  spdlog::info("fourth");

  std::string one = read_file(dir_ / "one.log");
  std::string two = read_file(dir_ / "two.log");
  EXPECT_TRUE(has(one, "first") && has(one, "third") && has(one, "fourth")) << one;
  EXPECT_FALSE(has(one, "second")) << one;
  EXPECT_TRUE(has(two, "second")) << two;
  EXPECT_FALSE(has(two, "third")) << two;
  // Each message exactly once: an old logger must not linger as a second sink.
  EXPECT_EQ(one.find("fourth"), one.rfind("fourth")) << one;
}

TEST_F(LoggingTest, WritesToStderrNotStdout) {
  init_logging({});
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  spdlog::info("to-stderr");
  std::string err = ::testing::internal::GetCapturedStderr();
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(out, "");
  EXPECT_TRUE(has(err, "to-stderr")) << err;
}

TEST_F(LoggingTest, UnopenableFileThrowsAndKeepsPreviousLogger) {
  LogOptions good;
  good.file = dir_ / "good.log";
  init_logging(good);

  std::ofstream(dir_ / "plain") << "not a directory";
  LogOptions bad;
  bad.file = dir_ / "plain" / "train.log";
  try {
    init_logging(bad);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(has(e.what(), bad.file->string())) << e.what();
  }
  spdlog::info("still here");
  EXPECT_TRUE(has(read_file(dir_ / "good.log"), "still here"));
}

TEST_F(LoggingTest, RejectsInvalidOptions) {
  LogOptions o;
  o.rank = -1;
  EXPECT_THROW(init_logging(o), std::invalid_argument);
  o.rank = 0;
  o.world_size = 0;
  EXPECT_THROW(init_logging(o), std::invalid_argument);
}

}  // namespace
}  // namespace kiln
