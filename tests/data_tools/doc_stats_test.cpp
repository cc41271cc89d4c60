// Document-length statistics and the histogram inspect prints.
#include <gtest/gtest.h>

#include "doc_stats.h"

namespace kiln::data_tools {
namespace {

TEST(LengthStats, MinMeanMaxAndLog2Buckets) {
  LengthStats s;
  for (uint64_t n : {1u, 2u, 3u, 4u, 7u, 8u, 100u, 0u}) s.add(n);
  EXPECT_EQ(s.documents(), 8u);
  EXPECT_EQ(s.tokens(), 125u);
  EXPECT_EQ(s.min(), 0u);
  EXPECT_EQ(s.max(), 100u);
  EXPECT_DOUBLE_EQ(s.mean(), 125.0 / 8);
  EXPECT_EQ(s.empty(), 1u);
  // [1], [2,3], [4,7], [8,15], [16,31], [32,63], [64,127]
  EXPECT_EQ(s.buckets(), (std::vector<uint64_t>{1, 2, 2, 1, 0, 0, 1}));
}

TEST(LengthStats, Histogram) {
  LengthStats s;
  for (int i = 0; i < 40; ++i) s.add(5);
  s.add(70);
  const std::string h = format_histogram(s, 40);
  // The line of the bucket whose range is `range`, without its leading padding.
  auto line = [&](const std::string& range) {
    const auto at = h.find(range + "  ");
    if (at == std::string::npos) return std::string("(no line for ") + range + ")";
    return h.substr(at, h.find('\n', at) - at);
  };
  EXPECT_TRUE(line("4 - 7").ends_with(" 40  " + std::string(40, '#'))) << h;
  EXPECT_TRUE(line("64 - 127").ends_with(" 1  #")) << "a non-empty bucket shows: " << h;
  EXPECT_TRUE(line("16 - 31").ends_with(" 0  ")) << "gaps are shown, empty: " << h;
  EXPECT_EQ(h.find("2 - 3"), std::string::npos) << "ranges start at the first non-empty bucket: " << h;
  const auto j = length_stats_json(s);
  EXPECT_EQ(j["documents"], 41);
  EXPECT_EQ(j["histogram"].size(), 2u);
  EXPECT_EQ(j["histogram"][1]["min"], 64);
  EXPECT_EQ(LengthStats().min(), 0u);
  EXPECT_EQ(format_histogram(LengthStats()), "");
}

}  // namespace
}  // namespace kiln::data_tools
