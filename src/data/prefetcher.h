// Background prefetch of whole steps, so the step loop does not wait for data.
//
// A thread fills the micro batches of the next `depth` steps ahead of the trainer, into buffers
// allocated once (depth + 1 steps' worth: one held by the trainer, the rest filling or ready).
// next() hands out the following step and blocks only when the thread is behind; the time it
// blocked is counted (wait_seconds) so a slow loader shows in the logs instead of hiding in the
// step time. An exception thrown while filling (a bad shard, an out-of-range token) is rethrown
// by the next() that reaches the failed step, with its message intact, and nothing after it is
// produced.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "data/batch.h"
#include "data/data_source.h"
#include "data/step_slicing.h"

namespace kiln {

class Prefetcher {
 public:
  // Starts producing from step `first_step`. `source` must outlive the prefetcher.
  Prefetcher(const DataSource& source, StepSlicing slicing, int seq, int64_t first_step, int depth = 2);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The micro batches of the next step (grad_accum of them, in order). They stay valid until the
  // following call.
  const std::vector<BatchStorage>& next();
  // Total seconds next() spent waiting for the thread.
  double wait_seconds() const { return wait_seconds_; }

 private:
  void produce();

  const DataSource& source_;
  StepSlicing slicing_;
  std::vector<std::vector<BatchStorage>> slots_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int64_t produced_;   // steps < produced_ are filled (or failed, see error_)
  int64_t consumed_;   // steps < consumed_ were handed out
  int64_t released_;   // steps < released_ may be overwritten
  bool stop_ = false;
  std::exception_ptr error_;  // the failure of step produced_, if any
  double wait_seconds_ = 0;
  std::thread thread_;
};

}  // namespace kiln
