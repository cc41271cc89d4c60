#include "cpu/alibi.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace kiln::cpu {
namespace {

std::vector<double> all_slopes(int n_heads) {
  std::vector<double> s(n_heads);
  alibi_slopes(s.data(), n_heads, 0, n_heads);
  return s;
}

TEST(Alibi, EightHeadsAreInversePowersOfTwo) {
  const auto s = all_slopes(8);
  const std::vector<double> expected = {0.5,     0.25,     0.125,     0.0625,
                                        0.03125, 0.015625, 0.0078125, 0.00390625};
  EXPECT_EQ(s, expected);  // exact: exp2 of integers
}

TEST(Alibi, ThirtyTwoHeadsFirstAndLast) {
  // BTLM: start = 2^(−8/32) = 2^(−1/4); slope_h = start^(h+1).
  const auto s = all_slopes(32);
  EXPECT_NEAR(s[0], 0.84089641525371454, 1e-15);  // 2^−0.25
  EXPECT_NEAR(s[1], 0.70710678118654752, 1e-15);  // 2^−0.5
  EXPECT_DOUBLE_EQ(s[31], 1.0 / 256);             // 2^−8
  for (int h = 0; h < 32; ++h) EXPECT_NEAR(s[h], std::pow(s[0], h + 1), 1e-15) << h;
}

TEST(Alibi, TwelveHeadsFollowTheInterleavedRecipe) {
  // Eight heads take the 8-head slopes; the other four take slopes 1, 3, 5, 7 (1-based) of the
  // 16-head sequence 2^(−k/2): 2^−0.5, 2^−1.5, 2^−2.5, 2^−3.5.
  const std::vector<double> expected = {
      0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625,    // 2^−1 … 2^−8
      0.70710678118654752, 0.35355339059327376, 0.17677669529663688, 0.08838834764831844};
  const auto s = all_slopes(12);
  ASSERT_EQ(s.size(), expected.size());
  for (size_t h = 0; h < s.size(); ++h) EXPECT_NEAR(s[h], expected[h], 1e-16) << h;
}

TEST(Alibi, SixAndThreeHeads) {
  // 6: four heads from the 4-head sequence 2^(−2(h+1)), then 2^−1 and 2^−3 from the 8-head one.
  EXPECT_EQ(all_slopes(6), (std::vector<double>{0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125}));
  // 3: 2^−4, 2^−8 (2-head sequence), then 2^−2 (first of the 4-head one).
  EXPECT_EQ(all_slopes(3), (std::vector<double>{0.0625, 0.00390625, 0.25}));
  EXPECT_EQ(all_slopes(1), (std::vector<double>{0.00390625}));
}

TEST(Alibi, TensorParallelSlicesUseGlobalHeadIndices) {
  // 12 heads over 4 ranks: each rank's 3 slopes are its slice of the global list.
  const auto global = all_slopes(12);
  for (int rank = 0; rank < 4; ++rank) {
    std::vector<float> local(3);
    alibi_slopes(local.data(), 12, rank * 3, 3);
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(local[k], static_cast<float>(global[rank * 3 + k]));
      EXPECT_EQ(alibi_slope(rank * 3 + k, 12), global[rank * 3 + k]);
    }
  }
}

TEST(Alibi, RejectsHeadsOutsideTheModel) {
  std::vector<double> s(4);
  EXPECT_THROW(alibi_slopes(s.data(), 8, 6, 4), std::invalid_argument);
  EXPECT_THROW(alibi_slopes(s.data(), 8, -1, 2), std::invalid_argument);
  EXPECT_THROW(alibi_slope(8, 8), std::invalid_argument);
  EXPECT_THROW(alibi_slope(0, 0), std::invalid_argument);
}

TEST(Alibi, BiasIsMinusSlopeTimesDistance) {
  EXPECT_EQ(alibi_bias(0.5, 3, 3), 0.0);
  EXPECT_EQ(alibi_bias(0.5, 3, 1), -1.0);
  EXPECT_EQ(alibi_bias(0.25f, 1, 5), -1.0f);  // symmetric in |i − j|
}

}  // namespace
}  // namespace kiln::cpu
