// Checkpoints: everything a run needs to continue, stored by global tensor so that any parallel
// layout can read any checkpoint (DESIGN.md principle 6).
//
// A checkpoint is a directory <checkpoint dir>/step-NNNNNNNN/ holding
//   manifest.json     format version, step, the writing layout (tp, dp, zero stage), the resolved
//                     config, the trainer state (trainer_state below), and the tensor index: for
//                     every rank file, its (tp rank, shard range of its TP-local flat buffer), the
//                     local layout (name, local and global shape, split dim, first global index,
//                     flat offset) and a checksum per array; sizes and checksums of every file
//   rank-TTTTT-DDDDD.bin   one file per (tp rank, dp rank) that holds a shard: the shard's
//                     parameters (training precision), fp32 master weights, Adam m and Adam v,
//                     back to back, little-endian
// It is written as step-NNNNNNNN.tmp-<id>/, every file fsynced, the manifest written last, the
// directory renamed into place and the parent fsynced; then `latest` (a one-line text file naming
// the directory) is replaced atomically, and checkpoints beyond keep_last are deleted (oldest
// first). A crash at any moment leaves every earlier checkpoint whole and `latest` naming one.
//
// Loading is by global tensor: for each tensor of the READING rank's layout, the loader assembles
// the global tensor from whichever source rank files hold its pieces (TP shards, ZeRO shards,
// padding) and copies out the reader's slice. So a checkpoint saved at tp 2 × dp 4 loads at tp 1
// × dp 1, tp 1 × dp 2, … as long as the model's global shapes agree; differing shapes are
// refused naming every tensor that differs. Every array's checksum is verified before anything is
// copied into the caller's buffers: a failed load changes nothing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "model/tensor_parallel.h"
#include "tensor/dtype.h"

namespace kiln {

struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What this rank holds: its TP layout and its ZeRO shard [shard_begin, shard_end) of the TP-local
// flat buffer (the whole padded buffer when optimizer state is not sharded; an empty range for a
// rank whose data the group's dp rank 0 already writes). Spans are [shard_end − shard_begin].
struct RankState {
  const TpLayout* layout = nullptr;
  int tp_rank = 0, tp_size = 1, dp_rank = 0, dp_size = 1;
  int64_t shard_begin = 0, shard_end = 0;
  DType param_dtype = DType::fp32;
  std::span<std::byte> params;  // the shard's parameters as the model holds them (fp32 or bf16 bits)
  std::span<float> masters, m, v;
};

// Small, layout-independent state, stored in the manifest as JSON.
struct TrainerState {
  int64_t step = 0;            // optimizer steps completed
  int64_t optimizer_steps = 0; // updates applied (skipped steps excluded): Adam's bias correction
  uint64_t data_next_sample = 0;
  uint64_t data_fingerprint = 0;
  std::vector<uint64_t> data_blend_counts;
  std::string config_yaml;     // the resolved config of the run that wrote it
};

struct CheckpointOptions {
  std::filesystem::path dir;   // the checkpoint directory (holds step-* and latest)
  int64_t keep_last = 3;
};

// Collective over `world` (every rank calls it with its own RankState). Returns the directory
// written. Throws CheckpointError (naming the path) on any I/O failure, after removing its
// temporary directory; earlier checkpoints are untouched.
std::filesystem::path save_checkpoint(const CheckpointOptions& options, const TrainerState& state,
                                      const RankState& rank, Communicator& world);

// The checkpoint to resume from: `spec` "auto" → the newest valid checkpoint in dir (the one
// `latest` names if valid, else the newest step-* that validates; each invalid one is reported
// through `warn` with the reason: missing file, size mismatch, checksum mismatch, bad manifest);
// "none" → nullopt; a path → that checkpoint, which must be valid (CheckpointError otherwise).
// Validation reads every file (sizes and checksums). Not collective: call on every rank, or on
// rank 0 and broadcast.
std::optional<std::filesystem::path> find_checkpoint(const std::filesystem::path& dir, const std::string& spec,
                                                     const std::function<void(const std::string&)>& warn);

// Validates `checkpoint` as find_checkpoint does: the manifest (format, version, consistency),
// and every rank file's existence, size and per-array checksums. Throws CheckpointError with the
// reason, naming the file and the array. Not collective. (Added with the implementation.)
void verify_checkpoint(const std::filesystem::path& checkpoint);

// Reads the manifest's trainer state (and config text).
TrainerState read_trainer_state(const std::filesystem::path& checkpoint);

// Fills this rank's buffers from `checkpoint`, whatever layout wrote it. With weights_only only
// params and masters are filled (branching without optimizer state: m and v are left as they
// are). Collective over `world` only in the sense that every rank calls it; reads files directly.
void load_checkpoint(const std::filesystem::path& checkpoint, RankState& rank, bool weights_only = false);

}  // namespace kiln
