#include "data/prefetcher.h"

#include <chrono>

namespace kiln {

Prefetcher::Prefetcher(const DataSource& source, StepSlicing slicing, int seq, int64_t first_step, int depth)
    : source_(source), slicing_(slicing), produced_(first_step), consumed_(first_step), released_(first_step) {
  slots_.assign(static_cast<size_t>(depth + 1),
                std::vector<BatchStorage>(static_cast<size_t>(slicing.grad_accum),
                                          BatchStorage(static_cast<int>(slicing.micro_batch), seq)));
  thread_ = std::thread([this] { produce(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void Prefetcher::produce() {
  const auto slots = static_cast<int64_t>(slots_.size());
  for (;;) {
    int64_t step;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || produced_ - released_ < slots; });
      if (stop_) return;
      step = produced_;
    }
    std::exception_ptr failure;
    try {
      auto& slot = slots_[static_cast<size_t>(step % slots)];
      for (int64_t m = 0; m < slicing_.grad_accum; ++m)
        source_.fill(slot[static_cast<size_t>(m)], slicing_.first_sample(step, m));
    } catch (...) {
      failure = std::current_exception();
    }
    {
      std::lock_guard lock(mutex_);
      if (failure) error_ = failure;
      else ++produced_;
    }
    changed_.notify_all();
    if (failure) return;
  }
}

const std::vector<BatchStorage>& Prefetcher::next() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  released_ = consumed_;  // the step handed out last time is done with
  changed_.notify_all();
  changed_.wait(lock, [&] { return produced_ > consumed_ || error_; });
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (produced_ <= consumed_) std::rethrow_exception(error_);
  const int64_t step = consumed_++;
  return slots_[static_cast<size_t>(step % static_cast<int64_t>(slots_.size()))];
}

}  // namespace kiln
