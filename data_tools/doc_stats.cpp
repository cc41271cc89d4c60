#include "doc_stats.h"

#include <algorithm>
#include <bit>

#include <fmt/core.h>

#include "progress.h"

namespace kiln::data_tools {

void LengthStats::add(uint64_t length) {
  ++documents_;
  tokens_ += length;
  min_ = std::min(min_, length);
  max_ = std::max(max_, length);
  if (length == 0) {
    ++empty_;
    return;
  }
  const auto k = static_cast<size_t>(std::bit_width(length) - 1);  // floor(log2(length))
  if (buckets_.size() <= k) buckets_.resize(k + 1, 0);
  ++buckets_[k];
}

std::string format_histogram(const LengthStats& stats, int width) {
  const auto& b = stats.buckets();
  uint64_t most = stats.empty();
  for (uint64_t n : b) most = std::max(most, n);
  if (most == 0) return "";
  auto bar = [&](uint64_t n) {
    if (n == 0) return std::string();
    const auto len = std::max<uint64_t>(1, n * static_cast<uint64_t>(width) / most);
    return std::string(len, '#');
  };
  std::string out = fmt::format("{:>17}  {:>12}\n", "length (tokens)", "documents");
  if (stats.empty() > 0) out += fmt::format("{:>17}  {:>12}  {}\n", "0", format_thousands(stats.empty()), bar(stats.empty()));
  size_t first = 0;
  while (first < b.size() && b[first] == 0) ++first;
  for (size_t k = first; k < b.size(); ++k) {
    const uint64_t lo = uint64_t{1} << k, hi = (uint64_t{1} << (k + 1)) - 1;
    const std::string range = lo == hi ? std::to_string(lo) : fmt::format("{} - {}", lo, hi);
    out += fmt::format("{:>17}  {:>12}  {}\n", range, format_thousands(b[k]), bar(b[k]));
  }
  return out;
}

nlohmann::json length_stats_json(const LengthStats& stats) {
  nlohmann::json hist = nlohmann::json::array();
  if (stats.empty() > 0) hist.push_back({{"min", 0}, {"max", 0}, {"documents", stats.empty()}});
  const auto& b = stats.buckets();
  for (size_t k = 0; k < b.size(); ++k)
    if (b[k] > 0) hist.push_back({{"min", uint64_t{1} << k}, {"max", (uint64_t{1} << (k + 1)) - 1}, {"documents", b[k]}});
  return {{"documents", stats.documents()}, {"tokens", stats.tokens()}, {"min", stats.min()},
          {"mean", stats.mean()},           {"max", stats.max()},       {"empty", stats.empty()},
          {"histogram", hist}};
}

}  // namespace kiln::data_tools
