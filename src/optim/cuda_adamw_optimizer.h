// CudaAdamWOptimizer: AdamWOptimizer's GPU twin (adamw_optimizer.h), for the GPU trainer.
//
// It owns device fp32 master weights and Adam moments m, v for the slice [shard_begin, shard_end)
// of the registry's flat layout, allocated once at construction and freed by the destructor, and
// runs every kernel on the stream it is given. The step is the CPU optimizer's, phase for phase:
//   1. local_sum_of_squares(grads): Σ g² over the slice's counted elements (cuda/global_norm.h),
//      copied to the host (this call synchronises the stream);
//   2. the caller adds the ranks' sums, takes the square root and calls step_with_norm: a
//      non-finite norm skips the step (nothing written, the step counter unchanged); otherwise
//      the clip coefficient min(1, grad_clip / (norm + 1e-6)) goes to the kernel as grad_scale
//      and the slice is updated with lr = base_lr · lr_scale per group and decoupled weight decay.
// The groups come from build_group_ranges / summarize_param_groups (param_groups.h), exactly as
// the CPU optimizer gets them, and the kernel's arithmetic is the CPU kernel's bit for bit
// (cuda/adamw.h): given the same gradients (the bf16 values, widened) and the same norm, both
// optimizers hold the same bits after any number of steps (where the host compiler does not fuse
// the CPU reference's a·b + c, as on baseline x86-64). The gradients must be complete in this
// stream's order (give it the stream of the CudaOps that produced them).
//
// Addressing, as in AdamWOptimizer: host initial parameters and the device gradient and parameter
// buffers address element 0 of the *full* (possibly DP-padded) flat layout; only the slice's
// elements are read or written. Gradients are bf16 (the GPU model's gradient buffer, averaged over
// the batch); the new parameters are written as bf16 rounded to nearest even, for elements that
// belong to a group only.
//
// Norm ranges, as ZeroOptimizer's NormRanges: [begin, end) ranges of the full layout whose squares
// count (under tensor parallelism a replicated tensor counts on TP rank 0 only); empty means every
// element of the slice counts, padding included (zero in a zero-filled gradient buffer). They are
// intersected with the slice once, at construction.
//
// Only in builds with the CUDA backend. Not thread-safe; one user at a time, like CudaOps.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "config/config.h"
#include "cpu/adamw.h"
#include "optim/adamw_optimizer.h"  // StepResult
#include "tensor/bf16.h"
#include "tensor/param_registry.h"

namespace kiln {

class CudaAdamWOptimizer {
 public:
  // Same type as ZeroOptimizer's NormRanges (train/zero_optimizer.h), which optim cannot include.
  using NormRanges = std::vector<std::pair<int64_t, int64_t>>;

  // initial_params: host fp32, the full layout (at least shard_end elements); the slice is copied
  // into the masters. m and v start at zero, the step count at 0. Returns with the copies done
  // (the stream is synchronised), so initial_params may be freed at once.
  // Throws std::logic_error for an unfinalized registry, std::invalid_argument for a bad slice
  // (shard_begin < 0, shard_end < shard_begin), a bad norm range (begin < 0, end < begin) or more
  // distinct groups than one launch serves (cuda::kAdamWMaxGroups), std::runtime_error when the
  // device memory cannot be allocated.
  CudaAdamWOptimizer(const ParamRegistry& registry, const OptimizerConfig& config, const float* initial_params,
                     int64_t shard_begin, int64_t shard_end, cudaStream_t stream, NormRanges norm_ranges = {});
  ~CudaAdamWOptimizer();
  CudaAdamWOptimizer(const CudaAdamWOptimizer&) = delete;
  CudaAdamWOptimizer& operator=(const CudaAdamWOptimizer&) = delete;

  // Phase 1: Σ g² over the slice's counted elements of the full bf16 gradient buffer (device).
  // Enqueued after the work already on the stream; synchronises the stream to return the value.
  double local_sum_of_squares(const bf16* device_grads) const;

  // Phase 2, given the global gradient norm: skip, or clip and update. base_lr is the schedule's
  // lr for this update. device_params_out: the full bf16 parameter buffer (device), or nullptr to
  // update the masters only. Asynchronous on the stream (the host decides the skip; no sync).
  StepResult step_with_norm(double grad_norm, const bf16* device_grads, double base_lr, bf16* device_params_out);

  // The bare update: advances the step count and applies AdamW with grad_scale = clip_coef. The
  // caller has checked that the gradients are finite. Asynchronous on the stream.
  void apply(const bf16* device_grads, double base_lr, double clip_coef, bf16* device_params_out);

  int64_t step_count() const { return step_; }  // updates applied so far
  void set_step_count(int64_t steps) { step_ = steps; }

  // Checkpoints: the slice's state to or from host fp32 arrays of shard_size() elements each
  // (index 0 = element shard_begin()). A null pointer skips that array. Both wait for the stream's
  // earlier work and return with the copies complete.
  void download_state(float* masters, float* m, float* v) const;
  void upload_state(const float* masters, const float* m, const float* v);

  // The device state itself (shard_size() floats each), for callers that copy on the device.
  const float* device_masters() const { return master_.get(); }
  const float* device_m() const { return m_.get(); }
  const float* device_v() const { return v_.get(); }

  int64_t shard_begin() const { return shard_begin_; }
  int64_t shard_end() const { return shard_end_; }
  int64_t shard_size() const { return shard_end_ - shard_begin_; }
  const std::vector<cpu::AdamWGroupRange>& groups() const { return groups_; }
  const OptimizerConfig& config() const { return config_; }
  cudaStream_t stream() const { return stream_; }

  // Device bytes of optimizer state: masters, m and v, 12 bytes per slice element.
  size_t state_bytes() const { return static_cast<size_t>(shard_size()) * 3 * sizeof(float); }

 private:
  struct DeviceFree {
    void operator()(void* p) const noexcept { cudaFree(p); }
  };
  struct HostFree {
    void operator()(void* p) const noexcept { cudaFreeHost(p); }
  };
  template <class T>
  using DevicePtr = std::unique_ptr<T, DeviceFree>;

  OptimizerConfig config_;
  std::vector<cpu::AdamWGroupRange> groups_;  // global ranges, as the CPU optimizer has them
  std::vector<double> group_lr_scale_;         // per distinct (lr_scale, weight_decay) pair
  std::vector<double> group_weight_decay_;
  int64_t shard_begin_;
  int64_t shard_end_;
  cudaStream_t stream_;
  int64_t step_ = 0;

  DevicePtr<float> master_, m_, v_;
  DevicePtr<void> adamw_chunks_;   // cuda::AdamWChunk[n_adamw_chunks_]
  int64_t n_adamw_chunks_ = 0;
  bool norm_whole_slice_ = true;   // no norm ranges given: sum the plain slice
  DevicePtr<void> norm_chunks_;    // cuda::SquaresChunk[n_norm_chunks_], slice-local
  int64_t n_norm_chunks_ = 0;
  DevicePtr<double> partials_;     // cuda::kSumOfSquaresPartials
  DevicePtr<double> sum_device_;
  std::unique_ptr<double, HostFree> sum_host_;  // pinned, so the copy back is a plain DMA
};

}  // namespace kiln
