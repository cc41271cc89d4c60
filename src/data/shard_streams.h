// The train and validation streams a config's data section asks for.
//
// Train: one dataset per data.train_paths entry, blended by data.train_weights (or by token
// count when empty). Validation: data.valid_paths blended the same way; when it is empty, each
// train file is cut by documents into [train, valid, test] ranges in the data.split proportions
// (the first documents train, the next validate, the rest are held out) and the validation
// ranges are blended by size. data.format hdf5 reads kiln's HDF5 token shards and Cerebras'
// [N, 3, MSL] files alike (told apart by content); Cerebras files are split by rows. Every file is opened and checked here, so a missing, truncated or
// too-small shard stops the run before it starts, with the file named.
#pragma once

#include <memory>

#include "config/config.h"
#include "data/blended_source.h"

namespace kiln {

struct ShardStreams {
  std::unique_ptr<BlendedSource> train;
  std::unique_ptr<BlendedSource> valid;  // null only when data.split[1] is 0 and valid_paths empty
};

// vocab_size: tokens must be below it (model.vocab_size); seq_length: model.seq_length.
// Throws DataFormatError (file problems) or std::invalid_argument (config problems), naming the
// file or key.
ShardStreams open_shard_streams(const DataConfig& data, int64_t vocab_size, int64_t seq_length);

}  // namespace kiln
