#include "ops/op_profile.h"

#include <algorithm>
#include <cstdio>

namespace kiln {

std::vector<OpTime> sorted_by_time(const std::map<std::string, OpTime>& by_label) {
  std::vector<OpTime> out;
  out.reserve(by_label.size());
  for (const auto& [label, t] : by_label) out.push_back(t);
  std::stable_sort(out.begin(), out.end(), [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  return out;
}

void HostOpTimer::end(const std::string& label) {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  OpTime& t = by_label_[label];
  t.label = label;
  ++t.calls;
  t.seconds += s;
}

std::string format_op_profile(const std::vector<OpTime>& profile) {
  double total = 0;
  for (const OpTime& t : profile) total += t.seconds;
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-48s %10s %12s %7s %12s\n", "op", "calls", "total ms", "share", "us/call");
  out += line;
  for (const OpTime& t : profile) {
    std::snprintf(line, sizeof line, "%-48s %10lld %12.3f %6.1f%% %12.1f\n", t.label.c_str(),
                  static_cast<long long>(t.calls), 1e3 * t.seconds, total > 0 ? 100.0 * t.seconds / total : 0.0,
                  t.calls ? 1e6 * t.seconds / static_cast<double>(t.calls) : 0.0);
    out += line;
  }
  std::snprintf(line, sizeof line, "%-48s %10s %12.3f\n", "all ops", "", 1e3 * total);
  out += line;
  return out;
}

}  // namespace kiln
