// make_process_grid: which world ranks share each TP and DP group, checked by all-gathering
// world ranks inside every group; and the error for a tp · dp that does not match the world.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "dist/process_grid.h"
#include "mpi_test_env.h"

namespace kiln {
namespace {

std::vector<int> gather_world_ranks(Communicator& group, int world_rank) {
  std::vector<int> all(static_cast<size_t>(group.size()), -1);
  group.all_gather(&world_rank, all.data(), 1, CommDType::int32);
  return all;
}

TEST(ProcessGrid, SingleIsThreeGroupsOfOne) {
  ProcessGrid g = ProcessGrid::single();
  EXPECT_EQ(g.world_size * g.tp_size * g.dp_size, 1);
  EXPECT_EQ(g.world_rank + g.tp_rank + g.dp_rank, 0);
  ASSERT_TRUE(g.world && g.tp && g.dp);
  EXPECT_EQ(g.world->name(), "world");
  EXPECT_EQ(g.tp->name(), "tp");
  EXPECT_EQ(g.dp->name(), "dp");
  EXPECT_EQ(g.tp->size(), 1);
}

class GridLayout : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(GridLayout, GroupsHoldTheDocumentedRanks) {
  const auto [tp, dp] = GetParam();
  const int world_size = test::world().size();
  if (tp * dp != world_size) GTEST_SKIP() << "tp " << tp << " × dp " << dp << " needs " << tp * dp << " ranks";
  ProcessGrid g = make_process_grid(tp, dp);
  const int w = test::world().rank();

  EXPECT_EQ(g.world_rank, w);
  EXPECT_EQ(g.world_size, world_size);
  EXPECT_EQ(g.tp_size, tp);
  EXPECT_EQ(g.dp_size, dp);
  EXPECT_EQ(g.tp_rank, w % tp);
  EXPECT_EQ(g.dp_rank, w / tp);
  EXPECT_EQ(g.world->name(), "world");
  EXPECT_EQ(g.tp->name(), "tp");
  EXPECT_EQ(g.dp->name(), "dp");
  EXPECT_EQ(g.world->rank(), w);
  EXPECT_EQ(g.tp->rank(), g.tp_rank);
  EXPECT_EQ(g.tp->size(), tp);
  EXPECT_EQ(g.dp->rank(), g.dp_rank);
  EXPECT_EQ(g.dp->size(), dp);

  std::vector<int> tp_members(static_cast<size_t>(tp)), dp_members(static_cast<size_t>(dp));
  for (int i = 0; i < tp; ++i) tp_members[static_cast<size_t>(i)] = g.dp_rank * tp + i;  // consecutive
  for (int i = 0; i < dp; ++i) dp_members[static_cast<size_t>(i)] = g.tp_rank + i * tp;  // stride tp
  std::vector<int> world_members(static_cast<size_t>(world_size));
  std::iota(world_members.begin(), world_members.end(), 0);
  EXPECT_EQ(gather_world_ranks(*g.tp, w), tp_members);
  EXPECT_EQ(gather_world_ranks(*g.dp, w), dp_members);
  EXPECT_EQ(gather_world_ranks(*g.world, w), world_members);

  // A reduction stays inside its group: the TP sum of world ranks is the sum of the members.
  int64_t sum = w;
  g.tp->all_reduce(&sum, 1, CommDType::int64, ReduceOp::sum);
  EXPECT_EQ(sum, std::accumulate(tp_members.begin(), tp_members.end(), int64_t{0}));
}

INSTANTIATE_TEST_SUITE_P(TpByDp, GridLayout, ::testing::Combine(::testing::Values(1, 2, 4), ::testing::Values(1, 2)),
                         [](const auto& info) {
                           return "tp" + std::to_string(std::get<0>(info.param)) + "_dp" +
                                  std::to_string(std::get<1>(info.param));
                         });

// The whole world as one TP group, then as one DP group: valid at every world size.
TEST(ProcessGrid, WholeWorldAsOneGroup) {
  const int n = test::world().size(), w = test::world().rank();
  ProcessGrid all_tp = make_process_grid(n, 1);
  EXPECT_EQ(all_tp.tp->size(), n);
  EXPECT_EQ(all_tp.dp->size(), 1);
  EXPECT_EQ(all_tp.tp->rank(), w);
  ProcessGrid all_dp = make_process_grid(1, n);
  EXPECT_EQ(all_dp.dp->size(), n);
  EXPECT_EQ(all_dp.tp->size(), 1);
  EXPECT_EQ(all_dp.dp->rank(), w);
}

TEST(ProcessGrid, MismatchedWorldSizeNamesTheKeysAndHowToLaunch) {
  const int n = test::world().size();
  try {
    make_process_grid(2, n);  // needs 2n ranks
    ADD_FAILURE() << "no DistError for tp 2 × dp " << n << " on " << n << " ranks";
  } catch (const DistError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("parallel.tensor = 2"), std::string::npos) << what;
    EXPECT_NE(what.find("parallel.data = " + std::to_string(n)), std::string::npos) << what;
    EXPECT_NE(what.find("world size is " + std::to_string(n)), std::string::npos) << what;
    EXPECT_NE(what.find("mpirun -n " + std::to_string(2 * n)), std::string::npos) << what;
    EXPECT_NE(what.find("srun --ntasks=" + std::to_string(2 * n)), std::string::npos) << what;
  }
  EXPECT_THROW(make_process_grid(0, n), DistError);
  EXPECT_THROW(make_process_grid(1, -1), DistError);
  // Every rank threw before any collective, so the world is still in step.
  test::world().barrier();
}

}  // namespace
}  // namespace kiln
