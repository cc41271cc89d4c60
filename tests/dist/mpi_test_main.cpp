// main for dist_tests, which mpirun starts on every rank (tests/CMakeLists.txt: kiln_mpi_test).
//
// Every rank runs every test; the tests' collectives line up because all ranks run them in the
// same order. Rank 0 prints GoogleTest's usual report; the other ranks print only their failures,
// tagged "[rank R]". At the end the failure flags are all-reduced, so a failure on any rank makes
// every rank exit non-zero, and mpirun (hence ctest) reports it.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <memory>

#include "dist/mpi_session.h"
#include "support/mpi_gtest.h"
#include "log/log.h"
#include "mpi_test_env.h"

namespace kiln::test {
namespace {

std::unique_ptr<MpiCommunicator> g_world;

}  // namespace

MpiCommunicator& world() { return *g_world; }

}  // namespace kiln::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  kiln::MpiSession session;
  kiln::init_logging({.level = kiln::LogLevel::warn, .rank = session.world_rank(), .world_size = session.world_size()});
  kiln::testing::print_failures_only_off_rank_zero(session.world_rank());
  kiln::test::g_world = std::make_unique<kiln::MpiCommunicator>(MPI_COMM_WORLD, "world");
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (failed && session.world_rank() == 0) {
    std::fprintf(stderr, "dist_tests: a test failed on at least one of %d ranks\n", session.world_size());
  }
  kiln::test::g_world.reset();  // before MpiSession finalises MPI
  return failed;
}
