// Document-length statistics for `inspect`: count, min / mean / max and a log2 histogram.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kiln::data_tools {

class LengthStats {
 public:
  void add(uint64_t length);

  uint64_t documents() const { return documents_; }
  uint64_t tokens() const { return tokens_; }
  uint64_t min() const { return documents_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return documents_ ? static_cast<double>(tokens_) / static_cast<double>(documents_) : 0.0; }
  // Documents of length 0 (empty documents carry no tokens but still count).
  uint64_t empty() const { return empty_; }
  // buckets()[k]: documents with length in [2^k, 2^(k+1)); as long as the largest bucket used.
  const std::vector<uint64_t>& buckets() const { return buckets_; }

 private:
  uint64_t documents_ = 0, tokens_ = 0, min_ = UINT64_MAX, max_ = 0, empty_ = 0;
  std::vector<uint64_t> buckets_;
};

// One line per bucket from the first to the last non-empty one:
//   "          64 - 127         1,234  ############################"
// bars scaled so the fullest bucket is `width` characters wide ('#'), a non-empty bucket at
// least one. An empty-document line comes first when there are any.
std::string format_histogram(const LengthStats& stats, int width = 40);

// {"documents", "tokens", "min", "mean", "max", "empty", "histogram": [{"min", "max", "documents"}…]}.
nlohmann::json length_stats_json(const LengthStats& stats);

}  // namespace kiln::data_tools
