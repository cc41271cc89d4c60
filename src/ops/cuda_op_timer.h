// CudaOpTimer: OpTimer (op_profile.h) for a CUDA stream. Each op is bracketed by two events
// recorded on the stream, from a pool created at construction; when the pool is full (and at
// totals()) the timer waits for the last event and adds up the elapsed times. So profiling costs
// two event records per op and one synchronisation per `capacity` ops, and the times are the
// GPU's, not the host's launch times. CUDA builds only.
#pragma once

#include <cuda_runtime_api.h>

#include <map>
#include <string>
#include <vector>

#include "ops/op_profile.h"

namespace kiln {

class CudaOpTimer final : public OpTimer {
 public:
  explicit CudaOpTimer(cudaStream_t stream, int capacity = 4096);
  ~CudaOpTimer() override;
  CudaOpTimer(const CudaOpTimer&) = delete;
  CudaOpTimer& operator=(const CudaOpTimer&) = delete;

  void begin() override;
  void end(const std::string& label) override;
  std::vector<OpTime> totals() override;

 private:
  void resolve();

  cudaStream_t stream_;
  std::vector<cudaEvent_t> start_, stop_;
  std::vector<std::string> labels_;
  size_t used_ = 0;
  std::map<std::string, OpTime> by_label_;
};

}  // namespace kiln
