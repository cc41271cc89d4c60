// TrainBackend: the model, its parameters and gradients, and the optimizer of one rank, on one
// device: everything the trainer's step loop (trainer.cpp) drives, and nothing it decides.
//
//   CpuTrainBackend  (cpu_train_backend.cpp)   the CPU reference: Decoder<float>, fp32 gradients,
//                    ZeroOptimizer over MPI (train.precision bf16 stores the weights rounded).
//   CudaTrainBackend (cuda_train_backend.cpp)  one GPU per rank: Decoder<bf16> on CudaOps, bf16
//                    parameters and gradients on the device, fp32 masters and Adam moments of the
//                    rank's ZeRO-1 shard on the device, NCCL for the TP and DP groups.
//
// One optimizer step is zero_grads(), forward_backward() per micro batch, step(lr). Checkpoints go
// through host views (rank_state): a device backend stages its shard to host memory reserved at
// construction before a save, and pushes it back after a load (loaded()).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ckpt/checkpoint.h"
#include "config/config.h"
#include "data/batch.h"
#include "dist/process_grid.h"
#include "model/decoder.h"
#include "ops/op_profile.h"
#include "model/tensor_parallel.h"
#include "optim/adamw_optimizer.h"

namespace kiln {

class TrainBackend {
 public:
  virtual ~TrainBackend() = default;

  // "cpu" or e.g. "cuda:0 (NVIDIA H100 80GB HBM3)": for the log.
  virtual std::string describe() const = 0;
  // This rank's flat layout (its TP shards) and the map to global tensors.
  virtual const TpLayout& layout() const = 0;
  const ParamRegistry& registry() const { return layout().registry(); }

  // Zeroes the gradient buffer: before the first micro batch of each step.
  virtual void zero_grads() = 0;
  // Forward and backward of one micro batch (host arrays; a device backend uploads them),
  // gradients ACCUMULATED; returns Σ mask·loss over its tokens. dloss_scale as Decoder::forward.
  virtual double forward_backward(const BatchStorage& batch, double dloss_scale) = 0;
  // Σ mask·loss of a batch, without gradients.
  virtual double evaluate(const BatchStorage& batch) = 0;
  // One optimizer step at learning rate lr: gradients reduced over DP, global norm (DP and TP),
  // clip, AdamW on this rank's shard, parameters gathered. A non-finite norm skips the update.
  virtual StepResult step(double lr) = 0;

  // Adam's update count (bias correction), for checkpoints.
  virtual int64_t optimizer_steps() const = 0;
  virtual void set_optimizer_steps(int64_t steps) = 0;

  // Host views of this rank's checkpoint state (ckpt/checkpoint.h): for a save (after staging
  // device state to the host; under ZeRO-0 only DP rank 0 writes), or for a load to fill.
  virtual RankState rank_state(bool for_save) = 0;
  // After load_checkpoint filled rank_state(false)'s views: make them the live state (upload,
  // and all-gather the parameters over DP when each rank loaded only its shard).
  virtual void loaded() = 0;

  // This rank's parameters in the registry's layout, as fp32 on the host (bf16 values widened).
  virtual std::span<const float> host_params() = 0;

  // Bytes of device memory in use on this rank's GPU (total − free, as the driver reports it:
  // kiln's buffers, the CUDA context and library workspaces); nothing for the CPU backend.
  virtual std::optional<int64_t> device_memory_bytes() const { return std::nullopt; }

  // With KILN_PROFILE_OPS=1 set at construction, the time spent in each op so far (the model's ops
  // wrapped in ProfiledOps; docs/performance.md); empty otherwise.
  virtual std::vector<OpTime> op_profile() { return {}; }
};

// Whether KILN_PROFILE_OPS asks for a per-op profile ("1"; unset, empty or "0": no).
bool op_profiling_requested();

// The [begin, end) ranges of a rank's flat layout whose squares count towards the global gradient
// norm: under tensor parallelism a replicated tensor's gradient is the same on every TP rank and
// counts once (TpLayout::norm_ranges); without TP the list is empty, meaning every element.
inline std::vector<std::pair<int64_t, int64_t>> norm_ranges_of(const TpLayout& layout, const ProcessGrid& grid) {
  std::vector<std::pair<int64_t, int64_t>> out;
  if (grid.tp_size == 1) return out;
  for (const ElementRange& r : layout.norm_ranges()) out.emplace_back(r.begin, r.end);
  return out;
}

// The decoder's recomputation as train.recompute and train.recompute_layers ask.
inline Recomputation recomputation_of(const Config& c) {
  return {c.train.recompute, static_cast<int>(c.train.recompute_layers.value_or(c.model.num_layers))};
}

// The backend train.device asks for. Throws std::runtime_error when this build or machine cannot
// provide it (no CUDA backend compiled in, no GPU), naming the reason.
std::unique_ptr<TrainBackend> make_train_backend(const Config& config, ProcessGrid& grid);

std::unique_ptr<TrainBackend> make_cpu_train_backend(const Config& config, ProcessGrid& grid);
// Defined only in builds with the CUDA backend (KILN_WITH_CUDA).
std::unique_ptr<TrainBackend> make_cuda_train_backend(const Config& config, ProcessGrid& grid);

}  // namespace kiln
