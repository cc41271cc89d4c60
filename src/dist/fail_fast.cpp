// run_fail_fast and any_rank.
#include "dist/fail_fast.h"

#include <mpi.h>

#include <exception>
#include <string>

#include "dist/mpi_session.h"

namespace kiln {
namespace {

bool multi_rank_job() {
  if (!MpiSession::active()) return false;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size > 1;
}

}  // namespace

int run_fail_fast(const std::function<int()>& body) {
  if (!multi_rank_job()) return body();
  int code = 0;
  try {
    code = body();
  } catch (const std::exception& e) {
    abort_job(kAbortExitCode, e.what());
  } catch (...) {
    abort_job(kAbortExitCode, "unknown exception (not derived from std::exception)");
  }
  if (code != 0) abort_job(code, "finished with exit code " + std::to_string(code) + "; stopping the other ranks");
  return 0;
}

bool any_rank(Communicator& group, bool local) {
  int32_t flag = local ? 1 : 0;
  group.all_reduce(&flag, 1, CommDType::int32, ReduceOp::max);
  return flag != 0;
}

}  // namespace kiln
