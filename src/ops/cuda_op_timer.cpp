#include "ops/cuda_op_timer.h"

#include "cuda/cuda_check.h"

namespace kiln {

CudaOpTimer::CudaOpTimer(cudaStream_t stream, int capacity)
    : stream_(stream),
      start_(static_cast<size_t>(capacity)),
      stop_(static_cast<size_t>(capacity)),
      labels_(static_cast<size_t>(capacity)) {
  for (size_t i = 0; i < start_.size(); ++i) {
    KILN_CUDA_CHECK(cudaEventCreate(&start_[i]));
    KILN_CUDA_CHECK(cudaEventCreate(&stop_[i]));
  }
}

CudaOpTimer::~CudaOpTimer() {
  for (size_t i = 0; i < start_.size(); ++i) {
    if (start_[i]) cudaEventDestroy(start_[i]);
    if (stop_[i]) cudaEventDestroy(stop_[i]);
  }
}

void CudaOpTimer::begin() {
  if (used_ == start_.size()) resolve();
  KILN_CUDA_CHECK(cudaEventRecord(start_[used_], stream_));
}

void CudaOpTimer::end(const std::string& label) {
  KILN_CUDA_CHECK(cudaEventRecord(stop_[used_], stream_));
  labels_[used_] = label;
  ++used_;
}

void CudaOpTimer::resolve() {
  if (used_ == 0) return;
  KILN_CUDA_CHECK(cudaEventSynchronize(stop_[used_ - 1]));
  for (size_t i = 0; i < used_; ++i) {
    float ms = 0;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, start_[i], stop_[i]));
    OpTime& t = by_label_[labels_[i]];
    t.label = labels_[i];
    ++t.calls;
    t.seconds += 1e-3 * ms;
  }
  used_ = 0;
}

std::vector<OpTime> CudaOpTimer::totals() {
  resolve();
  return sorted_by_time(by_label_);
}

}  // namespace kiln
