// The single-process trainer: the step loop on the CPU backend.
//
// One optimizer step = grad_accum micro batches. All micro batches of a step are drawn first, so
// the loss can be averaged over every unmasked target of the step (not per micro batch): each
// forward is given dloss_scale = 1 / (unmasked targets in the step), and gradients accumulate in
// one fp32 buffer. Then the global gradient norm is taken, clipped, and AdamW updates the fp32
// master weights; with train.precision bf16 the model's weights are stored rounded to bf16 (the
// CPU backend computes in fp32 on those values), fp32 keeps them as the masters.
//
// Data: data.format synthetic uses the built-in language; mmap and hdf5 open the shard loader
// (data/shard_streams.h). Either way a prefetch thread fills the micro batches of the next steps
// while the current one computes (data/prefetcher.h), reading global samples by step index
// (data/step_slicing.h), so the sample sequence is a function of the step alone.
//
// Every buffer is allocated in the constructor; the step loop allocates nothing.
// Runs log every logging.interval steps (loss, lr, grad norm, tokens/s) and write the same to the
// run's metrics file, evaluate every train.eval_interval steps and at the end.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "config/config.h"
#include "data/data_source.h"

namespace kiln {

struct TrainSummary {
  int64_t steps = 0;
  int64_t skipped_steps = 0;   // non-finite gradient norm: update skipped
  double first_loss = 0;       // mean train loss of step 1
  double final_loss = 0;       // mean train loss of the last step
  std::optional<double> final_eval_loss;
  double tokens_per_second = 0;
  double data_wait_seconds = 0;  // time the step loop waited for the prefetch thread
  DataState data_state;          // the training stream's position after the last step
};

class Trainer {
 public:
  // Checks what this build can run (CPU, one rank) and builds everything, opening every data file, so that
  // a run that cannot start fails before its run directory is created.
  explicit Trainer(const Config& config);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains train.steps steps. `metrics_file` empty: no metrics file (tests).
  TrainSummary run(const std::filesystem::path& metrics_file = {});

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace kiln
