// SIGTERM, SIGUSR1 and SIGINT as "save a checkpoint and stop" requests (cluster preemption: Slurm
// sends SIGTERM, or a chosen signal with --signal=USR1@120, some time before it kills the job; a
// user at a terminal presses Ctrl-C).
//
// While a StopSignal is alive, those signals only set a flag; the trainer polls it at each step
// boundary and, through an any-rank agreement (dist/fail_fast.h: any_rank), every rank saves and
// stops at the same step. The first SIGINT also says so on stderr; a second SIGINT has its default
// action (the process ends at once, saving nothing). The previous handlers come back when it is
// destroyed. One at a time per process.
#pragma once

#include <string>

namespace kiln {

class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool requested() const;
  // The signal that arrived (0: none), for the log.
  int signal_number() const;
  // "SIGINT (Ctrl-C)", "SIGTERM", "SIGUSR1", or "signal N".
  static std::string name(int sig);
};

}  // namespace kiln
