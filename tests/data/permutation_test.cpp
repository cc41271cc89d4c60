#include "data/permutation.h"

#include <gtest/gtest.h>

#include <vector>

namespace kiln {
namespace {

TEST(RandomPermutation, IsABijectionForManySizes) {
  for (uint64_t n : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 9u, 100u, 1000u, 4097u, 65537u}) {
    RandomPermutation p(n, 42);
    std::vector<bool> hit(n, false);
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t v = p(i);
      ASSERT_LT(v, n) << "n = " << n;
      ASSERT_FALSE(hit[v]) << "n = " << n << ": " << v << " hit twice";
      hit[v] = true;
    }
  }
}

TEST(RandomPermutation, KeyChangesTheOrderAndIsDeterministic) {
  const uint64_t n = 1000;
  RandomPermutation a(n, 1), b(n, 2), a2(n, 1);
  int same_ab = 0, fixed_points = 0;
  for (uint64_t i = 0; i < n; ++i) {
    EXPECT_EQ(a(i), a2(i));
    same_ab += a(i) == b(i);
    fixed_points += a(i) == i;
  }
  EXPECT_LT(same_ab, 20);        // two keys agree about as often as chance (1 in n per index)
  EXPECT_LT(fixed_points, 20);   // and the permutation actually moves things
}

TEST(RandomPermutation, LooksShuffled) {
  // Consecutive inputs should not map to nearby outputs: count neighbours that stay adjacent.
  const uint64_t n = 10000;
  RandomPermutation p(n, 7);
  int adjacent = 0;
  for (uint64_t i = 0; i + 1 < n; ++i) {
    const uint64_t a = p(i), b = p(i + 1);
    adjacent += (a > b ? a - b : b - a) == 1;
  }
  EXPECT_LT(adjacent, 20);
}

}  // namespace
}  // namespace kiln
