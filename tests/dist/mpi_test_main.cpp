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
#include "log/log.h"
#include "mpi_test_env.h"

namespace kiln::test {
namespace {

std::unique_ptr<MpiCommunicator> g_world;

class FailuresOnlyPrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailuresOnlyPrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_, r.file_name() ? r.file_name() : "?", r.line_number(),
                 r.message());
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result()->Failed()) std::fprintf(stderr, "[rank %d] FAILED %s.%s\n", rank_, info.test_suite_name(), info.name());
  }

 private:
  int rank_;
};

}  // namespace

MpiCommunicator& world() { return *g_world; }

}  // namespace kiln::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  kiln::MpiSession session;
  kiln::init_logging({.level = kiln::LogLevel::warn, .rank = session.world_rank(), .world_size = session.world_size()});
  if (session.world_rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new kiln::test::FailuresOnlyPrinter(session.world_rank()));
  }
  kiln::test::g_world = std::make_unique<kiln::MpiCommunicator>(MPI_COMM_WORLD, "world");
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (failed && session.world_rank() == 0) {
    std::fprintf(stderr, "dist_tests: a test failed on at least one of %d ranks\n", session.world_size());
  }
  kiln::test::g_world.reset();  // before MpiSession finalises MPI
  return failed;
}
