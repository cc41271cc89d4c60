#include "util/suggest.h"

#include <algorithm>
#include <cctype>

namespace kiln {

size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance; three rows are enough.
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

namespace {
std::string normalise(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string w = normalise(word);
  std::optional<std::string> best;
  size_t best_distance = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = edit_distance(w, normalise(c));
    if (d < best_distance) best_distance = d, best = c;
  }
  // A third of the word's length, at least 2: `lrr` finds `lr`, `foo` doesn't find `seed`.
  size_t limit = std::max<size_t>(2, w.size() / 3);
  if (best && best_distance <= limit && best_distance < std::max(w.size(), best->size())) return best;
  return std::nullopt;
}

}  // namespace kiln
