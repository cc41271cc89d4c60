// load_checkpoint (checkpoint.h): by global tensor, from any saved layout into any reading one.
//
// For each tensor of the reader's TP layout that overlaps the reader's shard:
//   1. for each source TP rank holding part of what the reader needs (one rank for a replicated
//      tensor; for a split one, the ranks whose block along the split dimension overlaps the
//      reader's block), read that rank's local tensor from its flat buffer, which may span several
//      ZeRO shard files (and never their padding: only the tensor's own elements are read);
//   2. place it into a global-tensor buffer (fp32) by the source's split;
//   3. copy the reader's slice (by its own split) that lies inside [shard_begin, shard_end) into
//      the caller's span, narrowing to bf16 (round to nearest even) when the reader trains in bf16.
// Params go through fp32 too: bf16 → fp32 is exact, so bf16 → bf16 is bit-identical.
//
// Before step 1 of anything: the manifest is parsed and validated, the global shapes compared
// (every difference listed in one error), and every array of every file the plan uses is
// checksummed, so that a corrupt or incompatible checkpoint leaves the caller's buffers as they
// were. The price is reading the used arrays twice (once to verify, once to load); the second
// read usually comes from the page cache. Memory: one global tensor in fp32, one source local
// tensor, and one read buffer, never the whole model.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "ckpt/checkpoint.h"
#include "ckpt/fs.h"
#include "ckpt/manifest.h"
#include "ckpt/rank_state_check.h"
#include "ckpt/verify.h"
#include "tensor/bf16.h"

namespace kiln {

using namespace ckpt;

namespace {

// Calls fn(local_start, global_start, count) for each run of local elements [a, b) of a tensor
// that is contiguous in the global tensor. A tensor split along dim d is [outer, extent, inner]
// locally and [outer, G, inner] globally, so each outer index gives one run of extent · inner.
template <class F>
void for_each_run(const Shape& global, int split_dim, int64_t begin, int64_t local_extent, int64_t a, int64_t b,
                  F&& fn) {
  if (a >= b) return;
  if (split_dim < 0) {
    fn(a, a, b - a);
    return;
  }
  int64_t inner = 1;
  for (int d = split_dim + 1; d < global.rank(); ++d) inner *= global[d];
  const int64_t run = local_extent * inner;
  const int64_t global_stride = global[split_dim] * inner;
  for (int64_t o = a / run; o * run < b; ++o) {
    const int64_t lo = std::max(a, o * run), hi = std::min(b, (o + 1) * run);
    fn(lo, o * global_stride + begin * inner + (lo - o * run), hi - lo);
  }
}

// A part of a source TP rank's flat range that one file holds.
struct Piece {
  size_t file;         // index into Manifest::files
  int64_t begin, end;  // elements of the TP rank's flat buffer
};

// The files holding [begin, end) of tp rank `tp`'s flat buffer (the manifest guarantees coverage
// and sorts files by shard start).
std::vector<Piece> pieces(const Manifest& m, int tp, int64_t begin, int64_t end) {
  std::vector<Piece> out;
  int64_t cursor = begin;
  for (size_t i = 0; i < m.files.size() && cursor < end; ++i) {
    const RankFileEntry& f = m.files[i];
    if (f.tp_rank != tp || f.shard_end <= cursor) continue;
    if (f.shard_begin > cursor) break;
    const int64_t hi = std::min(end, f.shard_end);
    out.push_back({i, cursor, hi});
    cursor = hi;
  }
  if (cursor < end)  // unreachable after parse_manifest's coverage check
    throw CheckpointError("tp rank " + std::to_string(tp) + ": elements [" + std::to_string(cursor) + ", " +
                          std::to_string(end) + ") are in no rank file");
  return out;
}

// What the reader needs of one tensor.
struct TensorPlan {
  size_t index;          // in the reader's registry and (same order by name lookup) the source's
  size_t source_index;   // in the manifest's layouts
  int64_t a, b;          // local elements of the reader's tensor inside its shard
  std::vector<int> source_tps;
};

std::vector<std::string> shape_differences(const TpLayout& layout, const Manifest& m,
                                           std::map<std::string, size_t, std::less<>>& source_index) {
  for (size_t j = 0; j < m.layouts[0].tensors.size(); ++j) source_index.emplace(m.layouts[0].tensors[j].name, j);
  std::vector<std::string> out;
  const ParamRegistry& g = layout.global_registry();
  for (const ParamEntry& e : g) {
    auto it = source_index.find(e.name);
    if (it == source_index.end())
      out.push_back(e.name + ": expected " + e.shape.to_string() + ", not in the checkpoint");
    else if (m.layouts[0].tensors[it->second].global_shape != e.shape)
      out.push_back(e.name + ": expected " + e.shape.to_string() + ", the checkpoint has " +
                    m.layouts[0].tensors[it->second].global_shape.to_string());
  }
  for (const TensorEntry& t : m.layouts[0].tensors)
    if (!g.contains(t.name)) out.push_back(t.name + ": in the checkpoint (" + t.global_shape.to_string() + "), not in this model");
  return out;
}

std::vector<TensorPlan> plan_load(const RankState& rank, const Manifest& m,
                                  const std::map<std::string, size_t, std::less<>>& source_index) {
  std::vector<TensorPlan> plans;
  const ParamRegistry& reg = rank.layout->registry();
  for (size_t i = 0; i < reg.size(); ++i) {
    const ParamEntry& e = reg.entries()[i];
    const int64_t a = std::max(e.offset, rank.shard_begin) - e.offset;
    const int64_t b = std::min(e.end(), rank.shard_end) - e.offset;
    if (a >= b) continue;  // not in this rank's shard
    TensorPlan p{i, source_index.at(e.name), a, b, {}};
    const TensorEntry& s0 = m.layouts[0].tensors[p.source_index];
    if (s0.split_dim < 0) {
      p.source_tps = {0};
    } else {
      // The reader's block along the source's split dimension: all of it unless split there too.
      const ParamShard& ts = rank.layout->shard(i);
      int64_t lo = 0, hi = s0.global_shape[s0.split_dim];
      if (ts.split_dim == s0.split_dim) {
        lo = ts.begin;
        hi = ts.begin + e.shape[ts.split_dim];
      }
      const int64_t extent = s0.shape[s0.split_dim];
      for (int s = 0; s < m.tp_size; ++s)
        if (s * extent < hi && (s + 1) * extent > lo) p.source_tps.push_back(s);
    }
    plans.push_back(std::move(p));
  }
  return plans;
}

class Reader {
 public:
  Reader(const std::filesystem::path& checkpoint, const Manifest& m) : dir_(checkpoint), m_(m) {}

  // Source tp rank `tp`'s flat elements [begin, end) of array k, as fp32, into out.
  void read(int tp, int64_t begin, int64_t end, ArrayKind k, float* out) {
    const bool bf16_params = k == ArrayKind::params && m_.param_dtype == DType::bf16;
    const size_t esize = bf16_params ? 2 : 4;
    for (const Piece& p : pieces(m_, tp, begin, end)) {
      const RankFileEntry& f = m_.files[p.file];
      const File& file = open(p.file);
      const size_t n = static_cast<size_t>(p.end - p.begin);
      const uint64_t at = f.arrays[static_cast<int>(k)].offset + static_cast<uint64_t>(p.begin - f.shard_begin) * esize;
      float* dst = out + (p.begin - begin);
      if (!bf16_params) {
        read_exact_at(file.fd(), file.path(), std::as_writable_bytes(std::span<float>(dst, n)), at);
      } else {
        raw_.resize(n);
        read_exact_at(file.fd(), file.path(), std::as_writable_bytes(std::span<bf16>(raw_)), at);
        to_float(raw_.data(), dst, n);
      }
    }
  }

 private:
  const File& open(size_t file) {
    auto it = open_.find(file);
    if (it == open_.end()) it = open_.emplace(file, open_for_reading(dir_ / m_.files[file].file)).first;
    return it->second;
  }

  std::filesystem::path dir_;
  const Manifest& m_;
  std::map<size_t, File> open_;
  std::vector<bf16> raw_;
};

}  // namespace

void load_checkpoint(const std::filesystem::path& checkpoint, RankState& rank, bool weights_only) {
  if (std::string problem = rank_state_problem(rank, "load_checkpoint", weights_only); !problem.empty())
    throw CheckpointError(problem);
  const Manifest m = read_manifest(checkpoint);

  std::map<std::string, size_t, std::less<>> source_index;
  if (const auto diff = shape_differences(*rank.layout, m, source_index); !diff.empty()) {
    std::string msg = checkpoint.string() + ": the checkpoint's model differs from this one in " +
                      std::to_string(diff.size()) + (diff.size() == 1 ? " tensor: " : " tensors: ");
    for (size_t i = 0; i < diff.size(); ++i) msg += (i ? "; " : "") + diff[i];
    throw CheckpointError(msg);
  }
  const std::vector<TensorPlan> plans = plan_load(rank, m, source_index);

  std::vector<ArrayKind> kinds = {ArrayKind::params, ArrayKind::masters};
  if (!weights_only) kinds.insert(kinds.end(), {ArrayKind::m, ArrayKind::v});

  // Verify every array this load will read before writing anything.
  std::set<size_t> used;
  int64_t largest = 0, largest_local = 0;
  for (const TensorPlan& p : plans) {
    for (int s : p.source_tps) {
      const TensorEntry& t = m.layouts[static_cast<size_t>(s)].tensors[p.source_index];
      for (const Piece& piece : pieces(m, s, t.offset, t.offset + t.shape.numel())) used.insert(piece.file);
      largest_local = std::max(largest_local, t.shape.numel());
    }
    largest = std::max(largest, m.layouts[0].tensors[p.source_index].global_shape.numel());
  }
  for (size_t f : used) verify_rank_file(checkpoint, m.files[f], kinds);

  Reader reader(checkpoint, m);
  std::vector<float> global(static_cast<size_t>(largest)), local(static_cast<size_t>(largest_local));
  const ParamRegistry& reg = rank.layout->registry();
  for (const TensorPlan& p : plans) {
    const ParamEntry& e = reg.entries()[p.index];
    const ParamShard& ts = rank.layout->shard(p.index);
    const int64_t t_extent = ts.split_dim >= 0 ? e.shape[ts.split_dim] : 0;
    for (ArrayKind k : kinds) {
      for (int s : p.source_tps) {
        const TensorEntry& t = m.layouts[static_cast<size_t>(s)].tensors[p.source_index];
        const int64_t n = t.shape.numel();
        reader.read(s, t.offset, t.offset + n, k, local.data());
        const int64_t s_extent = t.split_dim >= 0 ? t.shape[t.split_dim] : 0;
        for_each_run(t.global_shape, t.split_dim, t.begin, s_extent, 0, n, [&](int64_t l, int64_t g, int64_t c) {
          std::memcpy(global.data() + g, local.data() + l, static_cast<size_t>(c) * sizeof(float));
        });
      }
      // The reader's slice, inside its shard, into the caller's span (position relative to the shard).
      for_each_run(ts.global_shape, ts.split_dim, ts.begin, t_extent, p.a, p.b, [&](int64_t l, int64_t g, int64_t c) {
        const size_t at = static_cast<size_t>(e.offset + l - rank.shard_begin), cnt = static_cast<size_t>(c);
        const float* src = global.data() + g;
        switch (k) {
          case ArrayKind::params:
            if (rank.param_dtype == DType::bf16)
              to_bf16(src, reinterpret_cast<bf16*>(rank.params.data()) + at, cnt);
            else
              std::memcpy(rank.params.data() + at * sizeof(float), src, cnt * sizeof(float));
            break;
          case ArrayKind::masters: std::memcpy(rank.masters.data() + at, src, cnt * sizeof(float)); break;
          case ArrayKind::m: std::memcpy(rank.m.data() + at, src, cnt * sizeof(float)); break;
          case ArrayKind::v: std::memcpy(rank.v.data() + at, src, cnt * sizeof(float)); break;
        }
      });
    }
  }
}

}  // namespace kiln
