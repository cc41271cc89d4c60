// Fail fast: one failing rank brings the whole job down instead of leaving the others waiting
// forever in their next collective.
//
// MPI has no way to cancel a collective that a peer will never join: if rank 1 throws while
// ranks 0, 2, 3 sit in an all-reduce, they wait until the job's wall-clock limit. So the
// executables run their body through run_fail_fast: in a multi-rank job an exception that escapes
// the body on any rank is logged as "rank R: <message>" and abort_job(kAbortExitCode) calls
// MPI_Abort(MPI_COMM_WORLD), after which mpirun (or srun) kills every rank within its own bounded
// time and exits non-zero.
//
// Signals: when Open MPI's mpirun receives SIGINT or SIGTERM it sends SIGTERM to every rank,
// waits a few seconds, then sends SIGKILL (mpirun(1), "Signal Propagation"); SIGUSR1 and SIGUSR2
// are passed on as they are. srun likewise delivers SIGTERM to every task on scancel or at the
// time limit, and SIGKILL after the cluster's KillWait. kiln installs no MPI-specific handler:
// without the trainer's own handler the ranks die by the signal; with it, each rank sets its stop
// flag, and because ranks may notice the flag at different steps the trainer must agree on
// stopping through any_rank() (a max all-reduce at a step boundary) so that every rank
// checkpoints and exits at the same step. mpirun's grace before SIGKILL is seconds, too short
// for a large checkpoint: to stop a run cleanly under mpirun, send it SIGUSR1 or SIGUSR2, which
// arrive with no SIGKILL behind them (if the trainer treats them as "checkpoint and stop").
//
// Not done: a collective watchdog (a timer that aborts when one collective exceeds a bound).
// MPI_THREAD_FUNNELED forbids calling MPI_Abort from a watchdog thread, and the launcher's wall
// clock already bounds a hang; see docs/distributed.md.
#pragma once

#include <functional>

#include "dist/communicator.h"

namespace kiln {

// The exit status a multi-rank job ends with when a rank throws (passed to MPI_Abort).
inline constexpr int kAbortExitCode = 1;

// Runs body and returns its result.
// - No active MpiSession, or a world of one rank: nothing special; exceptions propagate to the
//   caller's own handler (the CLI's message and exit-code mapping).
// - Multi-rank job: an exception escaping body → abort_job(kAbortExitCode, its message); a
//   non-zero return → abort_job(that code, ...), since the other ranks may still be inside
//   collectives, or about to wait for this rank in MPI_Finalize. Only a zero return comes back.
int run_fail_fast(const std::function<int()>& body);

// True on every rank when `local` is true on any rank of `group` (one max all-reduce). For
// decisions every rank must take together, such as stopping after a signal.
bool any_rank(Communicator& group, bool local);

}  // namespace kiln
