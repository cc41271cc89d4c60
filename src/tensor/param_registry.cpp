#include "tensor/param_registry.h"

#include "util/suggest.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace kiln {

namespace {

constexpr size_t kSuggestions = 3;

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

}  // namespace

size_t ParamRegistry::add(std::string name, std::vector<int64_t> shape, ParamInfo info) {
  if (finalized_) throw std::logic_error("ParamRegistry: cannot add '" + name + "' after finalize()");
  if (name.empty()) throw std::invalid_argument("ParamRegistry: a parameter needs a name");
  if (contains(name)) throw std::invalid_argument("ParamRegistry: parameter '" + name + "' is registered twice");
  for (int64_t d : shape) {
    if (d < 1) {
      throw std::invalid_argument("ParamRegistry: parameter '" + name + "' has dimension " + std::to_string(d) +
                                  "; every dimension must be at least 1");
    }
  }
  if (shape.size() > static_cast<size_t>(Shape::kMaxRank)) {
    throw std::invalid_argument("ParamRegistry: parameter '" + name + "' has rank " + std::to_string(shape.size()) +
                                ", above the maximum of " + std::to_string(Shape::kMaxRank));
  }
  if (!std::isfinite(info.lr_scale) || info.lr_scale < 0) {
    throw std::invalid_argument("ParamRegistry: parameter '" + name + "' has lr_scale " +
                                std::to_string(info.lr_scale) + "; it must be finite and >= 0");
  }

  ParamEntry entry{std::move(name), Shape(shape), info, next_offset_};
  next_offset_ = round_up(entry.end(), kAlignment);
  param_count_ += entry.numel();
  const size_t index = entries_.size();
  index_.emplace(entry.name, index);
  entries_.push_back(std::move(entry));
  return index;
}

int64_t ParamRegistry::finalize() {
  finalized_ = true;
  return next_offset_;  // already a multiple of kAlignment: every add rounds up after its tensor
}

int64_t ParamRegistry::total_numel() const {
  if (!finalized_) throw std::logic_error("ParamRegistry: total_numel() before finalize()");
  return next_offset_;
}

int64_t ParamRegistry::param_count() const { return param_count_; }

size_t ParamRegistry::index_of(std::string_view name) const {
  if (auto it = index_.find(name); it != index_.end()) return it->second;

  // Rank every name by distance (ties in registration order) and offer the nearest few: with
  // hundreds of near-identical names, a list is more useful than a single guess.
  std::vector<std::pair<size_t, size_t>> ranked;  // (distance, index)
  ranked.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) ranked.emplace_back(edit_distance(name, entries_[i].name), i);
  const size_t shown = std::min(kSuggestions, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(shown), ranked.end());

  std::string message = "ParamRegistry: no parameter named '" + std::string(name) + "'";
  for (size_t k = 0; k < shown; ++k) {
    message += (k == 0 ? "; closest: '" : ", '") + entries_[ranked[k].second].name + "'";
  }
  if (entries_.empty()) message += " (none are registered)";
  throw std::out_of_range(message);
}

ParamViews ParamRegistry::bind(Buffer& buffer) const { return bind(TensorView(buffer)); }

ParamViews ParamRegistry::bind(const TensorView& flat) const {
  if (!finalized_) throw std::logic_error("ParamRegistry: bind() before finalize()");
  if (flat.numel() < next_offset_) {
    throw std::invalid_argument("ParamRegistry: cannot bind a buffer of " + std::to_string(flat.numel()) +
                                " elements; the layout needs " + std::to_string(next_offset_));
  }
  return ParamViews(this, flat.flat());
}

}  // namespace kiln
