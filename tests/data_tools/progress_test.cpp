// Progress formatting from given numbers (no clocks), and the display's redraw policy.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "progress.h"

namespace kiln::data_tools {
namespace {

TEST(Progress, Counts) {
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(987), "987");
  EXPECT_EQ(format_count(1234), "1.23k");
  EXPECT_EQ(format_count(12345), "12.3k");
  EXPECT_EQ(format_count(999999), "1.00M");
  EXPECT_EQ(format_count(4567890), "4.57M");
  EXPECT_EQ(format_count(1.2e9), "1.20G");
  EXPECT_EQ(format_thousands(0), "0");
  EXPECT_EQ(format_thousands(999), "999");
  EXPECT_EQ(format_thousands(1234567), "1,234,567");
  EXPECT_EQ(format_megabytes(12345678), "12.3 MB");
}

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(7.4), "0:07");
  EXPECT_EQ(format_duration(754), "12:34");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "--:--");
}

TEST(Progress, EtaFromInputBytes) {
  // 25 MB of 100 in 10 s: 2.5 MB/s, 75 MB left → 30 s.
  ProgressSnapshot s{.documents = 10, .bytes = 25'000'000, .total_bytes = 100'000'000, .tokens = 5'000'000, .seconds = 10};
  ASSERT_TRUE(eta_seconds(s).has_value());
  EXPECT_DOUBLE_EQ(*eta_seconds(s), 30.0);
  EXPECT_EQ(format_progress(s, true),
            "[#####---------------]  25%  10 docs  25.0/100.0 MB  5.00M tokens  2.5 MB/s  500k tok/s  ETA 0:30");
  EXPECT_EQ(format_progress(s, false), " 25%  10 docs  25.0/100.0 MB  5.00M tokens  2.5 MB/s  500k tok/s  ETA 0:30");

  s.total_bytes = 0;  // unknown total: no bar, percentage or ETA
  EXPECT_FALSE(eta_seconds(s).has_value());
  EXPECT_EQ(format_progress(s, true), "10 docs  25.0 MB  5.00M tokens  2.5 MB/s  500k tok/s");

  ProgressSnapshot start{.total_bytes = 100, .seconds = 0};
  EXPECT_FALSE(eta_seconds(start).has_value());
  EXPECT_TRUE(format_progress(start, true).ends_with("ETA --:--"));
}

std::string captured(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
  return s;
}

TEST(Progress, TerminalRedrawsInPlaceAtMostTenTimesASecond) {
  std::FILE* f = std::tmpfile();
  ProgressDisplay d(f, /*is_tty=*/true);
  for (int i = 0; i <= 100; ++i) d.update({.documents = static_cast<uint64_t>(i), .seconds = i * 0.01});  // 1 s
  d.finish({.documents = 100, .seconds = 1.0});
  const std::string out = captured(f);
  const auto redraws = std::count(out.begin(), out.end(), '\r');
  EXPECT_GE(redraws, 9);
  EXPECT_LE(redraws, 12);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);  // one line, ended by finish()
  std::fclose(f);
}

TEST(Progress, PlainOutputPrintsALineEveryFewSeconds) {
  std::FILE* f = std::tmpfile();
  ProgressDisplay d(f, /*is_tty=*/false);
  for (int i = 0; i <= 200; ++i) d.update({.documents = static_cast<uint64_t>(i), .seconds = i * 0.1});  // 20 s
  d.finish({.documents = 200, .seconds = 20});
  const std::string out = captured(f);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 5);  // at 5, 10, 15, 20 s and the final line
  std::fclose(f);

  std::FILE* g = std::tmpfile();
  ProgressDisplay quick(g, false);
  quick.update({.seconds = 1});
  quick.finish({.seconds = 2});  // a short run prints nothing; the summary says it all
  EXPECT_EQ(captured(g), "");
  std::fclose(g);
}

TEST(Progress, DisabledPrintsNothing) {
  std::FILE* f = std::tmpfile();
  ProgressDisplay d(f, true, /*enabled=*/false);
  d.update({.seconds = 10});
  d.finish({.seconds = 20});
  EXPECT_EQ(captured(f), "");
  std::fclose(f);
}

}  // namespace
}  // namespace kiln::data_tools
