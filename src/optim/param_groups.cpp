#include "optim/param_groups.h"

#include <cstdio>
#include <stdexcept>

namespace kiln {
namespace {

void require_finalized(const ParamRegistry& registry) {
  if (!registry.finalized()) {
    throw std::logic_error("param groups: the registry must be finalized before the optimizer reads its layout");
  }
}

double weight_decay_of(const ParamEntry& entry, const OptimizerConfig& optimizer) {
  return entry.info.decay ? optimizer.weight_decay : 0.0;
}

// Exact comparison on purpose: every tensor of one group gets its lr_scale from the same config
// value, so equal groups are bitwise equal, and a near-miss is a different group.
bool same_group(double lr_scale_a, double wd_a, double lr_scale_b, double wd_b) {
  return lr_scale_a == lr_scale_b && wd_a == wd_b;
}

// 1234567 -> "1,234,567": parameter counts are read by people.
std::string grouped_digits(int64_t n) {
  std::string digits = std::to_string(n);
  const size_t lead = digits[0] == '-' ? 1 : 0;
  for (size_t pos = digits.size(); pos > lead + 3; pos -= 3) digits.insert(pos - 3, 1, ',');
  return digits;
}

// Shortest faithful rendering of a multiplier or decay: 1, 0.1, 0.0125.
std::string short_double(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", x);
  return text;
}

std::string plural(int64_t n, const char* noun) {
  return grouped_digits(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace

std::vector<cpu::AdamWGroupRange> build_group_ranges(const ParamRegistry& registry,
                                                     const OptimizerConfig& optimizer) {
  require_finalized(registry);
  std::vector<cpu::AdamWGroupRange> ranges;
  for (const ParamEntry& entry : registry) {
    const double wd = weight_decay_of(entry, optimizer);
    if (!ranges.empty()) {
      cpu::AdamWGroupRange& last = ranges.back();
      // Merge only across no gap: extending over padding would put it in a group.
      if (last.end == entry.offset && same_group(last.lr_scale, last.weight_decay, entry.info.lr_scale, wd)) {
        last.end = entry.end();
        continue;
      }
    }
    ranges.push_back({entry.offset, entry.end(), entry.info.lr_scale, wd});
  }
  return ranges;
}

std::vector<ParamGroupSummary> summarize_param_groups(const ParamRegistry& registry,
                                                      const OptimizerConfig& optimizer) {
  // A model has a handful of groups, so a linear search per tensor is cheaper than a map.
  std::vector<ParamGroupSummary> groups;
  auto find_or_add = [&groups](double lr_scale, double wd) -> ParamGroupSummary& {
    for (ParamGroupSummary& g : groups) {
      if (same_group(g.lr_scale, g.weight_decay, lr_scale, wd)) return g;
    }
    ParamGroupSummary& g = groups.emplace_back();
    g.lr_scale = lr_scale;
    g.weight_decay = wd;
    return g;
  };

  require_finalized(registry);
  for (const ParamEntry& entry : registry) {
    ParamGroupSummary& g = find_or_add(entry.info.lr_scale, weight_decay_of(entry, optimizer));
    if (g.tensors == 0) g.first_tensor = entry.name;
    ++g.tensors;
    g.elements += entry.numel();
  }
  for (const cpu::AdamWGroupRange& r : build_group_ranges(registry, optimizer)) {
    ++find_or_add(r.lr_scale, r.weight_decay).ranges;
  }
  return groups;
}

std::vector<std::string> format_param_groups(const std::vector<ParamGroupSummary>& groups) {
  std::vector<std::string> lines;
  lines.reserve(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    const ParamGroupSummary& g = groups[i];
    lines.push_back("group " + std::to_string(i) + ": lr x" + short_double(g.lr_scale) + " wd " +
                    short_double(g.weight_decay) + ": " + plural(g.tensors, "tensor") + ", " +
                    plural(g.elements, "element") + " in " + plural(g.ranges, "range") + " (e.g. " +
                    g.first_tensor + ")");
  }
  return lines;
}

}  // namespace kiln
