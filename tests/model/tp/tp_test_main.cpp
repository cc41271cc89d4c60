// main for tp_tests, which mpirun starts on every rank (tests/CMakeLists.txt, "tensor parallelism").
//
// All np ranks form one TP group (make_process_grid(np, 1)); every rank runs every test in the same
// order, so the tests' collectives line up. Rank 0 prints GoogleTest's report; the other ranks print
// only their failures, tagged "[rank R]". At the end the failure flags are all-reduced (MAX), so a
// failure on any rank makes every rank exit non-zero, and mpirun (hence ctest) reports it.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "dist/mpi_session.h"
#include "support/mpi_gtest.h"
#include "dist/process_grid.h"
#include "model/tp/tp_test_env.h"

namespace kiln::tp_test {
namespace {

std::unique_ptr<ProcessGrid> g_grid;

}  // namespace

Communicator& tp_group() { return *g_grid->tp; }
Communicator& world() { return *g_grid->world; }

}  // namespace kiln::tp_test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  kiln::MpiSession session;
  kiln::testing::print_failures_only_off_rank_zero(session.world_rank());
  int failed = 1;
  {
    kiln::tp_test::g_grid = std::make_unique<kiln::ProcessGrid>(kiln::make_process_grid(session.world_size(), 1));
    failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
    kiln::tp_test::world().all_reduce(&failed, 1, kiln::CommDType::int32, kiln::ReduceOp::max);
    if (failed && session.world_rank() == 0)
      std::fprintf(stderr, "tp_tests: a test failed on at least one of %d ranks\n", session.world_size());
    kiln::tp_test::g_grid.reset();  // communicators go before MpiSession finalises MPI
  }
  return failed;
}
