// MPI's lifetime in a kiln process, and how a job is brought down.
//
// A kiln executable creates one MpiSession, at the top of main, when launched_under_mpi() says a
// launcher started it; a plain single-process run creates none and uses ProcessGrid::single(), so
// it needs neither mpirun nor a working MPI installation. Only the main thread calls MPI
// (MPI_THREAD_FUNNELED): the data prefetch thread and OpenMP workers never do.
//
// This header does not include <mpi.h>; code outside src/dist can use it freely.
#pragma once

#include <string>
#include <string_view>

namespace kiln {

// True when the environment shows a launcher started this process as an MPI rank:
// OMPI_COMM_WORLD_SIZE (Open MPI's mpirun), PMI_SIZE or PMI_RANK (MPICH/Hydra, Intel MPI),
// PMIX_RANK (any PMIx launcher) or SLURM_STEP_NUM_TASKS (srun; SLURM_NTASKS alone is not enough,
// sbatch sets it for the batch script too, where no job step and no PMI server exist).
bool launched_under_mpi();

// RAII MPI_Init_thread(MPI_THREAD_FUNNELED) / MPI_Finalize. One per process: MPI cannot be
// initialised twice, so a second MpiSession (or one after MPI_Finalize) throws DistError.
// Also throws DistError when MPI_Init_thread fails or offers less than MPI_THREAD_FUNNELED.
//
// Destroy every communicator before the session (ProcessGrid first): MPI_Finalize runs here.
// When an exception leaves a multi-rank job's main, do not rely on this destructor (MPI_Finalize
// waits for ranks that may be stuck in a collective): use run_fail_fast (fail_fast.h).
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }

  // MPI is initialised and not yet finalised (by anyone: a test main may own the session).
  static bool active();

 private:
  int world_rank_ = 0;
  int world_size_ = 1;
};

// Turns an MPI return code into DistError "<what>: <MPI_Error_string text>"; does nothing for
// MPI_SUCCESS. Meaningful only on communicators whose error handler is MPI_ERRORS_RETURN (every
// communicator kiln creates); under MPI's default handler a failing call aborts the job itself.
void check_mpi(int rc, std::string_view what);

// Brings the whole job down: logs "rank R: <why>" as an error, flushes the log, then
// MPI_Abort(MPI_COMM_WORLD, code), which makes the launcher (mpirun, srun) kill every rank, so
// none is left waiting in a collective for the one that failed. Without an active MPI session it
// logs and exits the process with `code`. Never returns.
[[noreturn]] void abort_job(int code, const std::string& why);

}  // namespace kiln
