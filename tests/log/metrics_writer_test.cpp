#include "log/metrics_writer.h"

#include "support/temp_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace kiln {
namespace {

namespace fs = std::filesystem;
using kiln::testing::read_file;
using nlohmann::json;

class MetricsWriterTest : public ::testing::Test {
 protected:
  std::string contents() const { return read_file(path_); }
  // Parses every line, failing the test on a line that is not a JSON object.
  std::vector<json> records() const {
    std::vector<json> out;
    std::string text = contents();
    if (!text.empty()) {
      EXPECT_EQ(text.back(), '\n') << "file does not end in a newline";
    }
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line);  // throws on invalid JSON
      EXPECT_TRUE(j.is_object()) << line;
      out.push_back(std::move(j));
    }
    return out;
  }

  kiln::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
  const fs::path path_ = dir_ / "metrics.jsonl";
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_F(MetricsWriterTest, LinesRoundTripValues) {
  double before = now_seconds();
  {
    MetricsWriter w(path_, 0);
    EXPECT_TRUE(w.active());
    w.write(1, {{"loss", 2.718281828459045}, {"lr", 3e-4}, {"tokens", int64_t{1} << 40},
                {"phase", "warmup"}, {"skipped", false}});
    w.write(2, {{"loss", 1.5}});
  }
  double after = now_seconds();
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["step"].get<int64_t>(), 1);
  EXPECT_TRUE(recs[0]["step"].is_number_integer());
  EXPECT_DOUBLE_EQ(recs[0]["loss"].get<double>(), 2.718281828459045);
  EXPECT_DOUBLE_EQ(recs[0]["lr"].get<double>(), 3e-4);
  EXPECT_EQ(recs[0]["tokens"].get<int64_t>(), int64_t{1} << 40);
  EXPECT_TRUE(recs[0]["tokens"].is_number_integer());
  EXPECT_EQ(recs[0]["phase"], "warmup");
  EXPECT_EQ(recs[0]["skipped"], false);
  EXPECT_EQ(recs[1]["step"].get<int64_t>(), 2);
  EXPECT_DOUBLE_EQ(recs[1]["loss"].get<double>(), 1.5);
  for (const auto& r : recs) {
    ASSERT_TRUE(r["time"].is_number_float());
    EXPECT_GE(r["time"].get<double>(), before - 1.0);
    EXPECT_LE(r["time"].get<double>(), after + 1.0);
  }
}

TEST_F(MetricsWriterTest, StepAndTimeComeFirstThenCallerOrder) {
  { MetricsWriter(path_, 0).write(7, {{"zeta", 1}, {"alpha", 2}}); }
  std::string line = contents();
  size_t step = line.find("\"step\""), time = line.find("\"time\"");
  size_t zeta = line.find("\"zeta\""), alpha = line.find("\"alpha\"");
  ASSERT_NE(alpha, std::string::npos) << line;
  EXPECT_LT(step, time);
  EXPECT_LT(time, zeta);
  EXPECT_LT(zeta, alpha);
}

TEST_F(MetricsWriterTest, NonFiniteBecomesNull) {
  {
    MetricsWriter w(path_, 0);
    w.write(3, {{"nan", std::numeric_limits<double>::quiet_NaN()},
                {"inf", std::numeric_limits<double>::infinity()},
                {"ninf", -std::numeric_limits<double>::infinity()},
                {"ok", 1.0}});
  }
  std::string text = contents();
  EXPECT_EQ(text.find("NaN"), std::string::npos) << text;
  EXPECT_NE(text.find("\"nan\":null"), std::string::npos) << text;
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_TRUE(recs[0]["nan"].is_null());
  EXPECT_TRUE(recs[0]["inf"].is_null());
  EXPECT_TRUE(recs[0]["ninf"].is_null());
  EXPECT_EQ(recs[0]["ok"].get<double>(), 1.0);
}

TEST_F(MetricsWriterTest, NonZeroRankWritesNothing) {
  {
    MetricsWriter w(path_, 3);
    EXPECT_FALSE(w.active());
    w.write(1, {{"loss", 1.0}});
    w.flush();
  }
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(MetricsWriterTest, AppendsOnReopen) {
  { MetricsWriter(path_, 0).write(1, {{"loss", 3.0}}); }
  { MetricsWriter(path_, 0).write(2, {{"loss", 2.0}}); }
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["step"], 1);
  EXPECT_EQ(recs[1]["step"], 2);
}

TEST_F(MetricsWriterTest, PartialLastLineIsRepairedOnReopen) {
  {
    std::ofstream out(path_, std::ios::binary);
    out << "{\"step\":1,\"time\":1.0,\"loss\":3.0}\n"
        << "{\"step\":2,\"time\":2.0,\"lo";  // the crash hit here
  }
  { MetricsWriter(path_, 0).write(2, {{"loss", 2.5}}); }
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["step"], 1);
  EXPECT_EQ(recs[1]["step"], 2);
  EXPECT_DOUBLE_EQ(recs[1]["loss"].get<double>(), 2.5);
}

TEST_F(MetricsWriterTest, FileWithOnlyAPartialLineIsEmptiedOnReopen) {
  { std::ofstream(path_, std::ios::binary) << "{\"step\":1,\"ti"; }
  { MetricsWriter w(path_, 0); }
  EXPECT_EQ(contents(), "");
}

// The repair scans backwards in chunks; a partial line longer than one chunk must still be cut
// back to the last newline.
TEST_F(MetricsWriterTest, LongPartialLineIsRepaired) {
  {
    std::ofstream out(path_, std::ios::binary);
    out << "{\"step\":1}\n" << "{\"step\":2,\"junk\":\"" << std::string(200'000, 'x');
  }
  { MetricsWriter w(path_, 0); }
  EXPECT_EQ(contents(), "{\"step\":1}\n");
}

TEST_F(MetricsWriterTest, FlushEveryBuffersRecords) {
  MetricsWriter w(path_, 0, /*flush_every=*/3);
  w.write(1, {{"a", 1}});
  w.write(2, {{"a", 2}});
  EXPECT_EQ(contents(), "");
  w.write(3, {{"a", 3}});
  EXPECT_EQ(records().size(), 3u);
  w.write(4, {{"a", 4}});
  EXPECT_EQ(records().size(), 3u);
  w.flush();
  EXPECT_EQ(records().size(), 4u);
}

TEST_F(MetricsWriterTest, DestructorFlushes) {
  {
    MetricsWriter w(path_, 0, /*flush_every=*/100);
    w.write(1, {{"a", 1}});
    EXPECT_EQ(contents(), "");
  }
  EXPECT_EQ(records().size(), 1u);
}

TEST_F(MetricsWriterTest, UnopenableFileThrowsNamingPath) {
  fs::path bad = dir_ / "missing_dir" / "metrics.jsonl";
  try {
    MetricsWriter w(bad, 0);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(bad.string()), std::string::npos) << what;
    EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
  }
}

TEST_F(MetricsWriterTest, UnopenableFileIsNoErrorOnOtherRanks) {
  EXPECT_NO_THROW(MetricsWriter(dir_ / "missing_dir" / "metrics.jsonl", 1));
}

TEST_F(MetricsWriterTest, RejectsBadArguments) {
  EXPECT_THROW(MetricsWriter(path_, 0, 0), std::invalid_argument);
  EXPECT_THROW(MetricsWriter(path_, -1), std::invalid_argument);
  MetricsWriter w(path_, 1);  // validation must not depend on the rank
  EXPECT_THROW(w.write(1, Metrics::array({1, 2})), std::invalid_argument);
  EXPECT_THROW(w.write(1, {{"step", 5}}), std::invalid_argument);
  EXPECT_THROW(w.write(1, {{"time", 5}}), std::invalid_argument);
  EXPECT_THROW(w.write(1, {{"nested", {{"a", 1}}}}), std::invalid_argument);
}

}  // namespace
}  // namespace kiln
