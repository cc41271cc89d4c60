#include "data/blended_source.h"

#include <bit>
#include <sstream>
#include <stdexcept>

#include "data/counter_hash.h"
#include "data/permutation.h"

namespace kiln {
namespace {

constexpr uint64_t kKindTag = 0x626c656e64ull;   // "blend"
constexpr uint64_t kEpochTag = 0x65706f6368ull;  // "epoch"

std::vector<double> weights_of(const std::vector<BlendedDataset>& datasets) {
  std::vector<double> w;
  for (const auto& d : datasets) w.push_back(d.weight);
  return w;
}

}  // namespace

BlendedSource::BlendedSource(std::vector<BlendedDataset> datasets, int seq, uint64_t seed, Split split)
    : datasets_(std::move(datasets)), seq_(seq), seed_(seed), split_(split), schedule_(weights_of(datasets_)) {
  // The stream's identity is what decides its samples: the shape, seed and split, and each
  // dataset's size and weight. Paths are left out on purpose, so moving the data keeps a run
  // resumable.
  uint64_t f = hash_combine(kKindTag, seed_);
  f = hash_combine(f, static_cast<uint64_t>(split_));
  f = hash_combine(f, static_cast<uint64_t>(seq_));
  for (size_t d = 0; d < datasets_.size(); ++d) {
    f = hash_combine(f, datasets_[d].dataset->size());
    f = hash_combine(f, datasets_[d].dataset->tokens());
    f = hash_combine(f, std::bit_cast<uint64_t>(schedule_.weights()[d]));
  }
  fingerprint_ = f;
}

void BlendedSource::fill(BatchStorage& out, uint64_t first_sample) const {
  if (out.seq != seq_)
    throw std::invalid_argument("batch storage has seq " + std::to_string(out.seq) + ", the loader produces rows of " +
                                std::to_string(seq_));
  const size_t t_len = static_cast<size_t>(seq_);
  for (int b = 0; b < out.batch; ++b) {
    std::pair<size_t, uint64_t> where;
    {
      std::lock_guard lock(schedule_mutex_);
      where = schedule_.locate(first_sample + static_cast<uint64_t>(b));
    }
    const auto [d, j] = where;
    const SampleDataset& ds = *datasets_[d].dataset;
    const uint64_t per_epoch = ds.size();
    const uint64_t epoch = j / per_epoch;
    const uint64_t key = hash_combine(hash_combine(hash_combine(seed_, kEpochTag + static_cast<uint64_t>(split_)), d), epoch);
    const uint64_t k = RandomPermutation(per_epoch, key)(j % per_epoch);
    const size_t row = static_cast<size_t>(b) * t_len;
    ds.read(k, {out.tokens.data() + row, out.targets.data() + row, out.loss_mask.data() + row,
                out.position_ids.data() + row, out.doc_ids.data() + row});
  }
}

void BlendedSource::next(BatchStorage& out) {
  fill(out, cursor_);
  cursor_ += static_cast<uint64_t>(out.batch);
}

DataState BlendedSource::state_at(uint64_t next_sample) const {
  std::lock_guard lock(schedule_mutex_);
  return {next_sample, fingerprint_, schedule_.counts_at(next_sample)};
}

void BlendedSource::restore(const DataState& state) {
  if (state.fingerprint != fingerprint_)
    throw std::invalid_argument("cannot restore a data state from a different stream (seed, split, sequence length, "
                                "dataset sizes or weights changed) into " + describe());
  if (!state.blend_counts.empty()) {
    std::lock_guard lock(schedule_mutex_);
    schedule_.restore(state.next_sample, state.blend_counts);
  }
  cursor_ = state.next_sample;
}

std::vector<double> BlendedSource::epochs_at(uint64_t next_sample) const {
  std::vector<uint64_t> counts;
  {
    std::lock_guard lock(schedule_mutex_);
    counts = schedule_.counts_at(next_sample);
  }
  std::vector<double> epochs;
  for (size_t d = 0; d < datasets_.size(); ++d)
    epochs.push_back(static_cast<double>(counts[d]) / static_cast<double>(datasets_[d].dataset->size()));
  return epochs;
}

std::string BlendedSource::describe() const {
  std::ostringstream s;
  s << split_name(split_) << " blend of " << datasets_.size() << " dataset" << (datasets_.size() == 1 ? "" : "s")
    << " (seed " << seed_ << ", seq " << seq_ << "):";
  for (size_t d = 0; d < datasets_.size(); ++d)
    s << (d ? ";" : "") << " " << schedule_.weights()[d] << " × " << datasets_[d].dataset->describe();
  return s.str();
}

}  // namespace kiln
