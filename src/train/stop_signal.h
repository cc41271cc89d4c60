// SIGTERM and SIGUSR1 as "save a checkpoint and stop" requests (cluster preemption: Slurm sends
// SIGTERM, or a chosen signal with --signal=USR1@120, some time before it kills the job).
//
// While a StopSignal is alive, those signals only set a flag; the trainer polls it at each step
// boundary and, through an any-rank agreement (dist/fail_fast.h: any_rank), every rank saves and
// stops at the same step. The previous handlers come back when it is destroyed. One at a time
// per process.
#pragma once

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
};

}  // namespace kiln
