// any_rank, and run_fail_fast's pass-through of results (its abort path is tested by the
// dist_fail_fast_* CTest entries, which run fail_fast_probe under mpirun).
#include <gtest/gtest.h>

#include "dist/fail_fast.h"
#include "mpi_test_env.h"

namespace kiln {
namespace {

using test::world;

TEST(AnyRank, TrueEverywhereWhenTrueOnOneRank) {
  const int n = world().size(), r = world().rank();
  EXPECT_TRUE(any_rank(world(), r == n - 1));
  EXPECT_TRUE(any_rank(world(), true));
  EXPECT_FALSE(any_rank(world(), false));
}

TEST(RunFailFast, ReturnsZeroFromASuccessfulBody) {
  EXPECT_EQ(run_fail_fast([] { return 0; }), 0);
}

TEST(RunFailFast, SingleRankLetsExceptionsReachTheCaller) {
  if (world().size() != 1) GTEST_SKIP() << "in a multi-rank job a throw would abort the job";
  EXPECT_THROW(run_fail_fast([]() -> int { throw DistError("boom"); }), DistError);
  EXPECT_EQ(run_fail_fast([] { return 3; }), 3);
}

}  // namespace
}  // namespace kiln
