// Where the trainer's micro batches come from.
//
// Addressing. A source is a sequence of samples (rows of `seq` tokens) numbered 0, 1, 2, … by a
// global sample index. Sample i is fixed by the dataset, the data seed and the split alone, never
// by the number of ranks, the micro-batch size or where a run was resumed (DESIGN.md, principle
// 5). fill() is that primitive: it writes samples [first_sample, first_sample + out.batch) into
// preallocated storage and changes nothing. The trainer computes each data-parallel rank's first
// sample from (step, micro step, rank) and calls fill(), so any layout reads the same global
// sequence. next() is the convenience for a single consumer (evaluation, tools, tests): it fills
// from an internal cursor and advances the cursor by out.batch.
//
// Resume. state() captures the cursor; restore() puts it back so the following next() returns
// exactly what it would have returned in the original run. DataState also carries a fingerprint
// of the stream (kind, seed, split, shape), and restore() rejects a state taken from a different
// stream instead of silently continuing on other data.
//
// Splits. Training and evaluation data are separate streams: a source is constructed for one
// Split, and the evaluation loop owns its own source (with its own cursor).
//
// Implementations: SyntheticSource (synthetic_source.h) and BlendedSource (blended_source.h, the
// shard loader).
#pragma once

#include "data/batch.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

enum class Split { train, valid };

inline const char* split_name(Split s) { return s == Split::train ? "train" : "valid"; }

// Everything needed to resume a stream: a few integers, which the checkpoint stores as they are.
struct DataState {
  uint64_t next_sample = 0;  // global index of the first sample the next next() returns
  uint64_t fingerprint = 0;  // identity of the stream; restore() requires it to match
  // Blended shards: how many of samples [0, next_sample) each dataset provided (BlendSchedule),
  // so a resumed run re-enters the blend without replaying it. Empty for a single stream.
  std::vector<uint64_t> blend_counts;

  bool operator==(const DataState&) const = default;
};

class DataSource {
 public:
  virtual ~DataSource() = default;

  // Writes samples [first_sample, first_sample + out.batch) into out, one per row. out.seq must
  // be the source's sequence length (std::invalid_argument otherwise). Does not move the cursor.
  virtual void fill(BatchStorage& out, uint64_t first_sample) const = 0;

  // fill(out, cursor), then cursor += out.batch.
  virtual void next(BatchStorage& out) = 0;

  DataState state() const { return state_at(cursor()); }
  // The state a run is in once samples [0, next_sample) are consumed (the trainer's view: it
  // knows the step, the source does not).
  virtual DataState state_at(uint64_t next_sample) const = 0;
  virtual uint64_t cursor() const = 0;
  // Moves the cursor to state.next_sample. Throws std::invalid_argument when state.fingerprint
  // does not name this stream.
  virtual void restore(const DataState& state) = 0;

  // One line for logs: what the stream is (kind, parameters, split).
  virtual std::string describe() const = 0;
};

}  // namespace kiln
