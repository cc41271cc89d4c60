// manifest.json: what a checkpoint directory holds, and the checks that make a manifest safe to
// act on. The schema is documented field by field in docs/checkpoints.md.
//
// parse_manifest validates everything the loader and the validator rely on, so that code after it
// can index without checking: format and version, every field's type, each TP rank's local layout
// consistent with the global shapes and the split (local extent × tp = global extent, first index
// = tp rank × local extent), tensor ranges inside the flat buffer, every rank file named plainly
// (no '/', so a manifest cannot point outside its directory), its arrays back to back with the
// sizes the shard implies, and every TP rank's flat buffer covered by its files' shards.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/checkpoint.h"
#include "tensor/dtype.h"
#include "tensor/tensor_view.h"

namespace kiln::ckpt {

inline constexpr std::string_view kFormat = "kiln-checkpoint";
inline constexpr int kVersion = 1;

// The arrays of a rank file, in file order.
enum class ArrayKind { params = 0, masters = 1, m = 2, v = 3 };
inline constexpr int kArrayKinds = 4;
std::string_view array_name(ArrayKind k);

// One array inside a rank file: bytes [offset, offset + bytes) of the file.
struct ArrayEntry {
  uint64_t offset = 0, bytes = 0;
  uint32_t crc32 = 0;
};

struct RankFileEntry {
  std::string file;  // a plain name inside the checkpoint directory
  int tp_rank = 0, dp_rank = 0;
  int64_t shard_begin = 0, shard_end = 0;  // elements of the TP rank's flat buffer
  uint64_t bytes = 0;                      // the file's size
  ArrayEntry arrays[kArrayKinds];          // indexed by ArrayKind

  int64_t numel() const { return shard_end - shard_begin; }
};

// One local tensor of a TP rank: its place in the rank's flat buffer and in the global tensor.
struct TensorEntry {
  std::string name;
  Shape shape;         // local
  Shape global_shape;
  int split_dim = -1;  // −1 replicated
  int64_t begin = 0;   // first global index along split_dim
  int64_t offset = 0;  // in the TP rank's flat buffer
};

struct TpRankLayout {
  int tp_rank = 0;
  int64_t flat_numel = 0;  // elements of the local registry (padding between tensors included)
  std::vector<TensorEntry> tensors;
};

struct Manifest {
  int64_t step = 0;
  int tp_size = 1, dp_size = 1;
  bool optimizer_sharded = false;  // some file holds less than its TP rank's whole flat buffer
  DType param_dtype = DType::fp32;
  TrainerState trainer;            // trainer.config_yaml is stored as the manifest's "config"
  std::vector<TpRankLayout> layouts;  // [tp_size], index = tp rank
  std::vector<RankFileEntry> files;   // sorted by (tp rank, shard_begin)
};

// The layout of `layout`'s TP rank as the manifest stores it.
TpRankLayout describe_layout(const TpLayout& layout);

std::string manifest_to_json(const Manifest& m);
// Throws CheckpointError "<where>: bad manifest: <what>" when anything listed above fails.
Manifest parse_manifest(std::string_view text, const std::filesystem::path& where);
// Reads and parses <checkpoint>/manifest.json (CheckpointError names the file when it is missing).
Manifest read_manifest(const std::filesystem::path& checkpoint);

// JSON of one rank file entry and one TP layout, for gathering them to rank 0 during a save.
std::string rank_file_to_json(const RankFileEntry& f);
RankFileEntry rank_file_from_json(std::string_view text);
std::string layout_to_json(const TpRankLayout& l);
TpRankLayout layout_from_json(std::string_view text);

}  // namespace kiln::ckpt
