// The trainer: the step loop of one rank, on the backend train.device names (train_backend.h):
// the CPU reference (fp32 math) or one GPU per rank (bf16 storage, fp32 masters; CUDA builds).
//
// One optimizer step = grad_accum micro batches on each of parallel.data ranks (data/
// step_slicing.h says which samples each reads), then the ZeRO-1 update of
// train/zero_optimizer.h: gradients reduce-scattered, each rank updating its shard of the
// optimizer state, parameters all-gathered. Under tensor parallelism (parallel.tensor > 1) the
// ranks of a TP group run one model together on the same samples (model/tensor_parallel.h) and
// each holds its shards; ZeRO-1 then shards each TP rank's own flat buffer over its DP group. All micro batches of a step are drawn first, so
// the loss can be averaged over every unmasked target of the step (not per micro batch): each
// forward is given dloss_scale = 1 / (unmasked targets in the step), and gradients accumulate in
// one gradient buffer (fp32 on the CPU, bf16 on the GPU). Then the global gradient norm is taken,
// clipped, and AdamW updates the fp32 master weights; with train.precision bf16 the model's weights
// are stored rounded to bf16 (the CPU backend computes in fp32 on those values), fp32 keeps them
// as the masters (CPU only).
//
// Data: data.format synthetic uses the built-in language; mmap and hdf5 open the shard loader
// (data/shard_streams.h). Either way a prefetch thread fills the micro batches of the next steps
// while the current one computes (data/prefetcher.h), reading global samples by step index
// (data/step_slicing.h), so the sample sequence is a function of the step alone.
//
// Every buffer (host or device) is allocated in the constructor; the step loop allocates nothing.
// Runs log every logging.interval steps (loss, lr, grad norm, tokens/s) and write the same to the
// run's metrics file (and, with RunOptions::tensorboard_dir, to a TensorBoard event file, flushed
// at every record), evaluate every train.eval_interval steps and at the end. docs/logging.md lists
// the metrics.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "config/config.h"
#include "data/data_source.h"
#include "dist/process_grid.h"
#include "tensor/param_registry.h"

namespace kiln {

// Where a run keeps its checkpoints and what it starts from (cmd_train fills it from the config
// and the run directory).
struct RunOptions {
  std::filesystem::path metrics_file;     // empty: no metrics file
  std::filesystem::path checkpoint_dir;   // empty: no checkpoints are written
  std::filesystem::path resume_from;      // a checkpoint to continue exactly (step, optimizer, data)
  std::filesystem::path init_from;        // else: a checkpoint whose weights start this run at step 0
  bool init_optimizer = false;            // with init_from: its Adam moments and update count too
  std::filesystem::path tensorboard_dir;  // empty: no TensorBoard event file (world rank 0 writes it)
};

struct TrainSummary {
  int64_t first_step = 0;  // steps already done when this run started (resume)
  bool stopped_by_signal = false;  // SIGTERM/SIGUSR1/SIGINT: stopped early (saved with save_on_signal)
  int stop_signal = 0;             // the signal this rank received (0: none, or only another rank's)
  std::filesystem::path last_checkpoint;
  int64_t steps = 0;
  int64_t skipped_steps = 0;   // non-finite gradient norm: update skipped
  double first_loss = 0;       // mean train loss of step 1
  double final_loss = 0;       // mean train loss of the last step
  std::optional<double> final_eval_loss;
  double tokens_per_second = 0;
  std::vector<double> losses;    // mean train loss of every step
  double data_wait_seconds = 0;  // time the step loop waited for the prefetch thread
  DataState data_state;          // the training stream's position after the last step
};

// Opens the training and validation data as a run of `config` would (the tokenizer, every
// shard's header and index), throwing what the run would throw, naming the file; for
// `kiln train --dry-run`. Reads headers and indexes only.
void check_training_data(const Config& config);

class Trainer {
 public:
  // Checks what this build and machine can run and builds everything, opening every data file, so that
  // a run that cannot start fails before its run directory is created.
  // `grid`: the process grid this rank belongs to (dist/process_grid.h), which must match
  // parallel.tensor × parallel.data; nullptr: one process (ProcessGrid::single()). The grid
  // must outlive the trainer.
  explicit Trainer(const Config& config, ProcessGrid* grid = nullptr);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains train.steps steps. `metrics_file` empty: no metrics file (tests).
  // Only world rank 0 writes the metrics file. SIGTERM or SIGUSR1 stops the run at the next step
  // boundary (every rank at the same one). With a checkpoint directory the run saves every
  // checkpoint.interval steps, at the end (checkpoint.save_final) and on that stop
  // (checkpoint.save_on_signal); with resume_from it first restores that checkpoint and continues
  // from its step, bit-identically to the run that wrote it (CPU backend).
  TrainSummary run(const RunOptions& options);
  TrainSummary run(const std::filesystem::path& metrics_file = {}) { return run(RunOptions{metrics_file}); }

  // The model's parameters as this rank holds them (the registry's layout, without padding).
  std::span<const float> params() const;
  // The whole model in the tp = 1 layout, gathered over the tensor-parallel group (collective:
  // every rank of the group calls it). Allocates: for tests and tools, not the step loop.
  std::vector<float> global_params() const;
  const ParamRegistry& registry() const;

 private:
  struct State;
  std::unique_ptr<ProcessGrid> own_grid_;
  std::unique_ptr<State> s_;
};

}  // namespace kiln
