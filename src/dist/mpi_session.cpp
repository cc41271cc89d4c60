// MpiSession, the launcher check, MPI error codes → DistError, and abort_job.
#include "dist/mpi_session.h"

#include <mpi.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string>

#include "dist/communicator.h"
#include "log/log.h"

namespace kiln {

bool launched_under_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK", "SLURM_STEP_NUM_TASKS"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

bool MpiSession::active() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

MpiSession::MpiSession() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized || finalized) {
    throw DistError(finalized ? "MPI was already finalised; it cannot be started again in this process"
                              : "MPI is already initialised: create only one MpiSession per process");
  }
  int provided = 0;
  // Errors during MPI_Init_thread go to MPI's default handler (abort), so the return code is a
  // formality for most implementations; check it anyway.
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    throw DistError("the MPI library offers thread level " + std::to_string(provided) +
                    ", below MPI_THREAD_FUNNELED, which kiln needs (its worker threads run beside MPI calls "
                    "made by the main thread)");
  }
  // MPI_COMM_WORLD itself keeps MPI_ERRORS_ARE_FATAL: kiln runs its collectives on duplicates
  // with MPI_ERRORS_RETURN (MpiCommunicator), and a failure on WORLD outside them should abort.
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size_);
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void check_mpi(int rc, std::string_view what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) {
    throw DistError(std::string(what) + " failed with MPI error code " + std::to_string(rc));
  }
  throw DistError(std::string(what) + " failed: " + std::string(text, static_cast<size_t>(length)));
}

void abort_job(int code, const std::string& why) {
  const bool mpi = MpiSession::active();
  int rank = 0;
  if (mpi) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  } else {
    try {
      rank = detect_rank();
    } catch (const std::exception&) {
      rank = 0;  // a malformed rank variable must not hide the real failure
    }
  }
  spdlog::error("rank {}: {}", rank, why);
  spdlog::default_logger()->flush();
  if (mpi) MPI_Abort(MPI_COMM_WORLD, code);
  // No MPI, or MPI_Abort returned (it should not): end this process; there is no peer to wait for.
  std::_Exit(code);
}

}  // namespace kiln
