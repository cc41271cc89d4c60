// Per-op time profiles: what ProfiledOps (profiled_ops.h) measures, and the clocks it measures
// with.
//
// An OpTimer brackets one op call: begin() just before it, end(label) just after. The CPU timer
// reads a steady clock (the CPU kernels are synchronous); a device timer records events on the
// backend's stream and resolves them later (cuda_op_timer.h), so profiling does not serialise the
// GPU with the host beyond one synchronisation when its event pool fills. totals() resolves what
// is pending and returns the accumulated time per label.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln {

struct OpTime {
  std::string label;  // the op's name, with its shape for GEMMs ("linear_forward 8192x2048->6144")
  int64_t calls = 0;
  double seconds = 0;
};

class OpTimer {
 public:
  virtual ~OpTimer() = default;
  virtual void begin() = 0;
  virtual void end(const std::string& label) = 0;
  // Time per label so far, largest first.
  virtual std::vector<OpTime> totals() = 0;
};

// Sorts by time, largest first (ties by label), for reports.
std::vector<OpTime> sorted_by_time(const std::map<std::string, OpTime>& by_label);

// The host clock, for backends whose ops have finished when they return (the CPU).
class HostOpTimer final : public OpTimer {
 public:
  void begin() override { start_ = std::chrono::steady_clock::now(); }
  void end(const std::string& label) override;
  std::vector<OpTime> totals() override { return sorted_by_time(by_label_); }

 private:
  std::chrono::steady_clock::time_point start_;
  std::map<std::string, OpTime> by_label_;
};

// A plain-text table of a profile: label, calls, total ms, % of the total, µs per call.
std::string format_op_profile(const std::vector<OpTime>& profile);

}  // namespace kiln
