#include "optim/cuda_adamw_optimizer.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "cpu/global_norm.h"
#include "cuda/adamw.h"
#include "cuda/cuda_check.h"
#include "cuda/global_norm.h"
#include "optim/param_groups.h"

namespace kiln {
namespace {

// kiln::bf16 and __nv_bfloat16 are the same 16 bits.
const cuda::bf16_t* device_bf16(const bf16* p) { return reinterpret_cast<const cuda::bf16_t*>(p); }
cuda::bf16_t* device_bf16(bf16* p) { return reinterpret_cast<cuda::bf16_t*>(p); }

int64_t checked_slice_size(int64_t begin, int64_t end) {
  if (begin < 0 || end < begin) {
    throw std::invalid_argument("CudaAdamWOptimizer: invalid slice [" + std::to_string(begin) + ", " +
                                std::to_string(end) + ") of the flat layout");
  }
  return end - begin;
}

// cudaMalloc with a message that says how much was asked and how much is free. nullptr for 0 bytes.
void* device_alloc(size_t bytes, const char* what) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the error so that later calls are not blamed for it
    size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    throw std::runtime_error(std::string("CudaAdamWOptimizer: cannot allocate ") + std::to_string(bytes) +
                             " bytes for " + what + " (" + std::to_string(free_bytes >> 20) + " MiB free of " +
                             std::to_string(total >> 20) + " MiB): " + cudaGetErrorString(err) +
                             "; shard the optimizer over more data-parallel ranks (parallel.zero_stage = 1)");
  }
  return p;
}

// Uploads a host table into fresh device memory, on `stream`.
template <class T>
void* upload_table(const std::vector<T>& table, const char* what, cudaStream_t stream) {
  void* p = device_alloc(table.size() * sizeof(T), what);
  if (p != nullptr) {
    KILN_CUDA_CHECK(cudaMemcpyAsync(p, table.data(), table.size() * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  return p;
}

}  // namespace

CudaAdamWOptimizer::CudaAdamWOptimizer(const ParamRegistry& registry, const OptimizerConfig& config,
                                       const float* initial_params, int64_t shard_begin, int64_t shard_end,
                                       cudaStream_t stream, NormRanges norm_ranges)
    : config_(config),
      groups_(build_group_ranges(registry, config)),
      shard_begin_(shard_begin),
      shard_end_(shard_end),
      stream_(stream) {
  const int64_t n = checked_slice_size(shard_begin, shard_end);
  for (const auto& [b, e] : norm_ranges) {
    if (b < 0 || e < b) {
      throw std::invalid_argument("CudaAdamWOptimizer: invalid norm range [" + std::to_string(b) + ", " +
                                  std::to_string(e) + ")");
    }
  }

  // Group ids: the index of each range's (lr_scale, weight_decay) pair among the distinct pairs,
  // taken from the same summary the run logs. Exact comparison, as param_groups.cpp does: every
  // tensor of a group gets its values from the same config expression.
  const std::vector<ParamGroupSummary> summary = summarize_param_groups(registry, config);
  if (summary.size() > static_cast<size_t>(cuda::kAdamWMaxGroups)) {
    throw std::invalid_argument("CudaAdamWOptimizer: " + std::to_string(summary.size()) +
                                " distinct (lr_scale, weight_decay) groups; one launch serves at most " +
                                std::to_string(cuda::kAdamWMaxGroups));
  }
  for (const ParamGroupSummary& g : summary) {
    group_lr_scale_.push_back(g.lr_scale);
    group_weight_decay_.push_back(g.weight_decay);
  }
  std::vector<cuda::AdamWRange> local_ranges;
  for (const cpu::AdamWGroupRange& r : groups_) {
    const int64_t begin = std::max(r.begin, shard_begin_), end = std::min(r.end, shard_end_);
    if (begin >= end) continue;  // outside this rank's slice
    int32_t id = -1;
    for (size_t k = 0; k < summary.size(); ++k) {
      if (summary[k].lr_scale == r.lr_scale && summary[k].weight_decay == r.weight_decay) id = static_cast<int32_t>(k);
    }
    if (id < 0) throw std::logic_error("CudaAdamWOptimizer: a group range matches no group of the summary");
    local_ranges.push_back({begin - shard_begin_, end - shard_begin_, id});
  }
  const std::vector<cuda::AdamWChunk> adamw_table = cuda::adamw_chunks(local_ranges);

  // Norm chunks: the given ranges cut by the slice, in slice-local indices.
  std::vector<cuda::SquaresChunk> norm_table;
  norm_whole_slice_ = norm_ranges.empty();
  if (!norm_whole_slice_) {
    std::vector<std::pair<int64_t, int64_t>> local;
    for (const auto& [b, e] : norm_ranges) {
      const int64_t from = std::max(b, shard_begin_), to = std::min(e, shard_end_);
      if (from < to) local.emplace_back(from - shard_begin_, to - shard_begin_);
    }
    norm_table = cuda::squares_chunks(local);
  }

  const size_t state = static_cast<size_t>(n) * sizeof(float);
  master_.reset(static_cast<float*>(device_alloc(state, "the fp32 master weights")));
  m_.reset(static_cast<float*>(device_alloc(state, "the first moments")));
  v_.reset(static_cast<float*>(device_alloc(state, "the second moments")));
  adamw_chunks_.reset(upload_table(adamw_table, "the AdamW chunk table", stream_));
  n_adamw_chunks_ = static_cast<int64_t>(adamw_table.size());
  norm_chunks_.reset(upload_table(norm_table, "the norm chunk table", stream_));
  n_norm_chunks_ = static_cast<int64_t>(norm_table.size());
  partials_.reset(static_cast<double*>(
      device_alloc(sizeof(double) * cuda::kSumOfSquaresPartials, "the norm partials")));
  sum_device_.reset(static_cast<double*>(device_alloc(sizeof(double), "the norm")));
  double* host = nullptr;
  KILN_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&host), sizeof(double)));
  sum_host_.reset(host);

  if (n > 0) {
    // Padding comes along with the tensors: zero in the caller's buffer, it stays zero here.
    KILN_CUDA_CHECK(cudaMemcpyAsync(master_.get(), initial_params + shard_begin_, state, cudaMemcpyHostToDevice,
                                    stream_));
    KILN_CUDA_CHECK(cudaMemsetAsync(m_.get(), 0, state, stream_));
    KILN_CUDA_CHECK(cudaMemsetAsync(v_.get(), 0, state, stream_));
  }
  // The host tables and initial_params may go once this returns.
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

// The members free themselves; cudaFree waits for the device, so no kernel still uses the state.
CudaAdamWOptimizer::~CudaAdamWOptimizer() = default;

double CudaAdamWOptimizer::local_sum_of_squares(const bf16* device_grads) const {
  const cuda::bf16_t* slice = device_bf16(device_grads) + shard_begin_;
  if (norm_whole_slice_) {
    cuda::sum_of_squares(sum_device_.get(), slice, shard_size(), partials_.get(), stream_);
  } else {
    cuda::sum_of_squares_chunks(sum_device_.get(), slice, static_cast<const cuda::SquaresChunk*>(norm_chunks_.get()),
                                n_norm_chunks_, partials_.get(), stream_);
  }
  KILN_CUDA_CHECK(cudaMemcpyAsync(sum_host_.get(), sum_device_.get(), sizeof(double), cudaMemcpyDeviceToHost, stream_));
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return *sum_host_;
}

StepResult CudaAdamWOptimizer::step_with_norm(double grad_norm, const bf16* device_grads, double base_lr,
                                              bf16* device_params_out) {
  StepResult result = plan_step(grad_norm, config_.grad_clip, step_);  // as on the CPU
  if (result.skipped) return result;
  apply(device_grads, base_lr, result.clip_coef, device_params_out);
  result.step = step_;
  return result;
}

void CudaAdamWOptimizer::apply(const bf16* device_grads, double base_lr, double clip_coef, bf16* device_params_out) {
  ++step_;
  const cuda::AdamWScalars scalars =
      cuda::adamw_scalars(config_.beta1, config_.beta2, config_.eps, step_, clip_coef, base_lr, group_lr_scale_.data(),
                          group_weight_decay_.data(), static_cast<int>(group_lr_scale_.size()));
  // bf16: the kernel rounds each new master as it writes it, so the output costs no extra pass.
  cuda::bf16_t* out = device_params_out != nullptr ? device_bf16(device_params_out) + shard_begin_ : nullptr;
  cuda::adamw_update(master_.get(), m_.get(), v_.get(), device_bf16(device_grads) + shard_begin_, out,
                     static_cast<const cuda::AdamWChunk*>(adamw_chunks_.get()), n_adamw_chunks_, scalars, stream_);
}

void CudaAdamWOptimizer::download_state(float* masters, float* m, float* v) const {
  const size_t bytes = static_cast<size_t>(shard_size()) * sizeof(float);
  if (bytes > 0) {
    if (masters != nullptr)
      KILN_CUDA_CHECK(cudaMemcpyAsync(masters, master_.get(), bytes, cudaMemcpyDeviceToHost, stream_));
    if (m != nullptr) KILN_CUDA_CHECK(cudaMemcpyAsync(m, m_.get(), bytes, cudaMemcpyDeviceToHost, stream_));
    if (v != nullptr) KILN_CUDA_CHECK(cudaMemcpyAsync(v, v_.get(), bytes, cudaMemcpyDeviceToHost, stream_));
  }
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaAdamWOptimizer::upload_state(const float* masters, const float* m, const float* v) {
  const size_t bytes = static_cast<size_t>(shard_size()) * sizeof(float);
  if (bytes > 0) {
    if (masters != nullptr)
      KILN_CUDA_CHECK(cudaMemcpyAsync(master_.get(), masters, bytes, cudaMemcpyHostToDevice, stream_));
    if (m != nullptr) KILN_CUDA_CHECK(cudaMemcpyAsync(m_.get(), m, bytes, cudaMemcpyHostToDevice, stream_));
    if (v != nullptr) KILN_CUDA_CHECK(cudaMemcpyAsync(v_.get(), v, bytes, cudaMemcpyHostToDevice, stream_));
  }
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

}  // namespace kiln
