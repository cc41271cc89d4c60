#include "data/blend_schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace kiln {
namespace {

TEST(BlendSchedule, EveryPrefixFollowsTheWeights) {
  const std::vector<double> w{0.5, 0.3, 0.2};
  BlendSchedule s(w);
  std::vector<uint64_t> counts(3, 0);
  for (uint64_t i = 0; i < 20000; ++i) {
    const auto [d, j] = s.locate(i);
    ASSERT_EQ(j, counts[d]) << "the dataset-local index is the dataset's count so far";
    ++counts[d];
    for (size_t k = 0; k < 3; ++k)
      ASSERT_LE(std::abs(static_cast<double>(counts[k]) - w[k] * static_cast<double>(i + 1)), 1.0)
          << "dataset " << k << " after " << i + 1 << " samples";
  }
}

TEST(BlendSchedule, WeightsAreRelative) {
  BlendSchedule a({2, 1}), b({0.6666666666666666, 0.3333333333333333});
  for (uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(a.locate(i), b.locate(i)) << i;
}

TEST(BlendSchedule, RandomAccessAgreesWithSequential) {
  BlendSchedule seq({0.7, 0.2, 0.1}), rnd({0.7, 0.2, 0.1});
  std::vector<std::pair<size_t, uint64_t>> expected;
  for (uint64_t i = 0; i < 200000; ++i) expected.push_back(seq.locate(i));
  for (uint64_t i : {199999u, 5u, 131072u, 65535u, 65536u, 0u, 150000u, 3u}) EXPECT_EQ(rnd.locate(i), expected[i]) << i;
}

TEST(BlendSchedule, RestoredCountersContinueExactly) {
  BlendSchedule a({0.25, 0.25, 0.5});
  for (uint64_t i = 0; i < 777; ++i) a.locate(i);
  const std::vector<uint64_t> counts = a.counts_at(777);
  BlendSchedule b({0.25, 0.25, 0.5});
  b.restore(777, counts);
  for (uint64_t i = 777; i < 3000; ++i) ASSERT_EQ(a.locate(i), b.locate(i)) << i;
}

TEST(BlendSchedule, ZeroWeightDatasetIsNeverChosen) {
  BlendSchedule s({1, 0});
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(s.locate(i).first, 0u);
}

TEST(BlendSchedule, RejectsBadWeightsAndCounters) {
  EXPECT_THROW(BlendSchedule({}), std::invalid_argument);
  EXPECT_THROW(BlendSchedule({0, 0}), std::invalid_argument);
  EXPECT_THROW(BlendSchedule({1, -1}), std::invalid_argument);
  EXPECT_THROW(BlendSchedule({1, NAN}), std::invalid_argument);
  BlendSchedule s({1, 1});
  EXPECT_THROW(s.restore(10, {5}), std::invalid_argument);
  EXPECT_THROW(s.restore(10, {5, 4}), std::invalid_argument);
}

}  // namespace
}  // namespace kiln
