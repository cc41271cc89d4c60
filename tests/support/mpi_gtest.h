// GoogleTest under mpirun, shared by the MPI test mains (tests/dist, tests/model/tp, tests/ckpt,
// tests/train/dist): rank 0 keeps GoogleTest's usual report, every other rank prints only its
// failures, tagged "[rank R]", so a failure on one rank is seen without eight copies of the report.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>

namespace kiln::testing {

class FailuresOnlyPrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailuresOnlyPrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_, r.file_name() ? r.file_name() : "?", r.line_number(),
                 r.message());
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result()->Failed())
      std::fprintf(stderr, "[rank %d] FAILED %s.%s\n", rank_, info.test_suite_name(), info.name());
  }

 private:
  int rank_;
};

// On ranks other than 0, replaces GoogleTest's printer by FailuresOnlyPrinter.
inline void print_failures_only_off_rank_zero(int rank) {
  if (rank == 0) return;
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  delete listeners.Release(listeners.default_result_printer());
  listeners.Append(new FailuresOnlyPrinter(rank));
}

}  // namespace kiln::testing
