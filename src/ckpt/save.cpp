// save_checkpoint (checkpoint.h): every rank writes its shard, rank 0 writes the manifest and
// makes the checkpoint visible in one rename.
//
// Failure handling. The save is three phases, each closed by an all-gather in which every rank
// reports its own error (or none): (1) rank 0 creates the temporary directory, (2) every rank
// writes its file, (3) rank 0 writes the manifest, renames, updates `latest` and prunes. After a
// phase in which any rank failed, rank 0 removes the temporary directory and every rank throws
// the same CheckpointError listing each failed rank's message, so the ranks stay in step and the
// caller decides (the trainer treats it as fatal; under MPI the fail-fast wrapper ends the job).
// A rank that dies outright (crash, kill) never joins the next all-gather: the others wait until
// the launcher's fail-fast (dist/fail_fast.h) takes the job down. Nothing visible changed either
// way: only the rename in phase 3 publishes a checkpoint, and it happens after every file and the
// manifest are on disk.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <system_error>
#include <vector>

#include "ckpt/checkpoint.h"
#include "ckpt/checksum.h"
#include "ckpt/fs.h"
#include "ckpt/manifest.h"
#include "ckpt/names.h"
#include "ckpt/rank_state_check.h"
#include "ckpt/save_hooks.h"
#include "util/atomic_file.h"

namespace kiln {
namespace ckpt {
namespace {

std::function<void(SaveStage)>& save_hook() {
  static std::function<void(SaveStage)> hook;
  return hook;
}

void run_hook(SaveStage stage) {
  if (save_hook()) save_hook()(stage);
}

}  // namespace

void set_save_hook(std::function<void(SaveStage)> hook) { save_hook() = std::move(hook); }

}  // namespace ckpt

using namespace ckpt;
using nlohmann::json;

namespace {

// Every rank's string, in rank order: lengths first, then the bytes padded to the longest.
std::vector<std::string> all_gather_strings(Communicator& world, const std::string& mine) {
  const size_t n = static_cast<size_t>(world.size());
  int64_t len = static_cast<int64_t>(mine.size());
  std::vector<int64_t> lens(n);
  world.all_gather(&len, lens.data(), 1, CommDType::int64);
  const size_t longest = static_cast<size_t>(*std::max_element(lens.begin(), lens.end()));
  std::vector<std::string> out(n);
  if (longest == 0) return out;
  std::vector<char> send(longest, '\0'), recv(longest * n);
  std::copy(mine.begin(), mine.end(), send.begin());
  world.all_gather(send.data(), recv.data(), longest, CommDType::byte);
  for (size_t r = 0; r < n; ++r) out[r].assign(recv.data() + r * longest, static_cast<size_t>(lens[r]));
  return out;
}

// Closes a phase: throws on every rank when any rank reported an error (rank 0 first removes the
// temporary directory, if there is one).
void agree(Communicator& world, const std::string& my_error, const std::filesystem::path& target,
           const std::filesystem::path& tmp = {}) {
  const std::vector<std::string> errors = all_gather_strings(world, my_error);
  std::string all;
  for (size_t r = 0; r < errors.size(); ++r)
    if (!errors[r].empty()) all += (all.empty() ? "" : "; ") + ("rank " + std::to_string(r) + ": " + errors[r]);
  if (all.empty()) return;
  if (world.rank() == 0 && !tmp.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(tmp, ec);  // best effort: the next save removes leftovers too
  }
  throw CheckpointError("cannot save checkpoint " + target.string() + ": " + all);
}

std::string random_id() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  return buf;
}

// Rank 0, phase 1. A checkpoint directory belongs to one job at a time, so any temporary found
// here is a leftover of a save that crashed; it is removed before the new one starts.
std::string prepare_temporary(const std::filesystem::path& dir, const std::string& final_name) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw CheckpointError(dir.string() + ": cannot create the checkpoint directory: " + ec.message());
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (is_temporary_name(e.path().filename().string())) remove_tree(e.path());
  if (ec) throw CheckpointError(dir.string() + ": cannot list: " + ec.message());
  const std::string name = final_name + ".tmp-" + random_id();
  if (!std::filesystem::create_directory(dir / name, ec) || ec)
    throw CheckpointError((dir / name).string() + ": cannot create: " + (ec ? ec.message() : "it exists"));
  return name;
}

// Phase 2: the shard's four arrays, back to back; the CRC of each is computed from memory as it is
// written, in chunks so that each chunk is still in cache when write() copies it.
RankFileEntry write_rank_file(const std::filesystem::path& tmp, const RankState& rank) {
  RankFileEntry f;
  f.file = rank_file_name(rank.tp_rank, rank.dp_rank);
  f.tp_rank = rank.tp_rank;
  f.dp_rank = rank.dp_rank;
  f.shard_begin = rank.shard_begin;
  f.shard_end = rank.shard_end;
  const std::span<const std::byte> arrays[kArrayKinds] = {rank.params, std::as_bytes(rank.masters),
                                                          std::as_bytes(rank.m), std::as_bytes(rank.v)};
  File out = create_for_writing(tmp / f.file);
  constexpr size_t kChunk = size_t{16} << 20;
  uint64_t at = 0;
  for (int k = 0; k < kArrayKinds; ++k) {
    uint32_t crc = 0;
    for (size_t i = 0; i < arrays[k].size(); i += kChunk) {
      const auto chunk = arrays[k].subspan(i, std::min(kChunk, arrays[k].size() - i));
      crc = crc32_update(crc, chunk);
      write_all(out, chunk);
    }
    f.arrays[k] = {at, arrays[k].size(), crc};
    at += arrays[k].size();
  }
  f.bytes = at;
  fsync_file(out);
  out.close();
  return f;
}

// What each rank tells rank 0 in phase 2.
json rank_report(const RankState& rank, int64_t step, const std::optional<RankFileEntry>& file) {
  json j = {{"step", step},
            {"tp_size", rank.tp_size},
            {"dp_size", rank.dp_size},
            {"tp_rank", rank.tp_rank},
            {"dp_rank", rank.dp_rank},
            {"param_dtype", std::string(name(rank.param_dtype))}};
  if (file) j["file"] = rank_file_to_json(*file);
  // dp rank 0 of every TP group describes its TP rank's layout (identical across the group).
  if (rank.dp_rank == 0 && rank.layout) j["layout"] = layout_to_json(describe_layout(*rank.layout));
  return j;
}

// Rank 0: the manifest from every rank's report. Throws CheckpointError when the ranks disagree
// about the layout or a TP rank's flat buffer is not covered (parse_manifest checks the latter).
Manifest build_manifest(const std::vector<std::string>& reports, const TrainerState& state, const RankState& rank,
                        const std::filesystem::path& target) {
  Manifest m;
  m.step = state.step;
  m.tp_size = rank.tp_size;
  m.dp_size = rank.dp_size;
  m.param_dtype = rank.param_dtype;
  m.trainer = state;
  m.layouts.resize(static_cast<size_t>(rank.tp_size));
  std::vector<bool> have_layout(m.layouts.size(), false), have_file(static_cast<size_t>(rank.tp_size * rank.dp_size), false);
  for (size_t r = 0; r < reports.size(); ++r) {
    const json j = json::parse(reports[r]);
    const std::string who = "rank " + std::to_string(r);
    if (j.at("step").get<int64_t>() != m.step || j.at("tp_size").get<int>() != m.tp_size ||
        j.at("dp_size").get<int>() != m.dp_size || j.at("param_dtype").get<std::string>() != name(m.param_dtype))
      throw CheckpointError(who + " saves step " + j.at("step").dump() + " at tp " + j.at("tp_size").dump() + " × dp " +
                            j.at("dp_size").dump() + " in " + j.at("param_dtype").get<std::string>() +
                            ", rank 0 step " + std::to_string(m.step) + " at tp " + std::to_string(m.tp_size) +
                            " × dp " + std::to_string(m.dp_size) + " in " + std::string(name(m.param_dtype)));
    if (j.contains("layout")) {
      TpRankLayout l = layout_from_json(j.at("layout").get<std::string>());
      have_layout.at(static_cast<size_t>(l.tp_rank)) = true;
      m.layouts.at(static_cast<size_t>(l.tp_rank)) = std::move(l);
    }
    if (j.contains("file")) {
      RankFileEntry f = rank_file_from_json(j.at("file").get<std::string>());
      const size_t slot = static_cast<size_t>(f.dp_rank * m.tp_size + f.tp_rank);
      if (have_file.at(slot)) throw CheckpointError(who + " writes " + f.file + ", which another rank writes too");
      have_file[slot] = true;
      m.files.push_back(std::move(f));
    }
  }
  for (size_t t = 0; t < have_layout.size(); ++t)
    if (!have_layout[t]) throw CheckpointError("no rank with dp rank 0 reported the layout of tp rank " + std::to_string(t));
  m.optimizer_sharded = std::any_of(m.files.begin(), m.files.end(), [&](const RankFileEntry& f) {
    return f.shard_begin > 0 || f.shard_end < m.layouts[static_cast<size_t>(f.tp_rank)].flat_numel;
  });
  // Round trip through the reader's checks: a manifest that could not be loaded is never published.
  return parse_manifest(manifest_to_json(m), target / kManifest);
}

// Keeps the newest keep_last checkpoints (by step), counting the one just written among them
// whatever its step. Temporaries are not touched here (the next save's phase 1 removes them).
void prune(const std::filesystem::path& dir, const std::string& just_written, int64_t keep_last) {
  if (keep_last < 1) return;
  std::vector<std::pair<int64_t, std::filesystem::path>> dirs;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (auto step = parse_step_dir_name(n); step && n != just_written && e.is_directory(ec)) dirs.emplace_back(*step, e.path());
  }
  std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = static_cast<size_t>(keep_last - 1); i < dirs.size(); ++i) remove_tree(dirs[i].second);
}

// Rank 0, phase 3.
void commit(const std::filesystem::path& dir, const std::filesystem::path& tmp, const std::string& final_name,
            const Manifest& manifest, int64_t keep_last) {
  const std::string text = manifest_to_json(manifest);
  write_file_synced(tmp / kManifest, std::as_bytes(std::span<const char>(text.data(), text.size())));
  run_hook(SaveStage::manifest_written);
  fsync_directory(tmp);  // the rank files' and the manifest's entries
  const std::filesystem::path target = dir / final_name;
  const std::filesystem::path aside = dir / (tmp.filename().string() + "-replaced");
  const bool replaced = replace_directory(tmp, target, aside);
  fsync_directory(dir);
  if (replaced) remove_tree(aside);
  run_hook(SaveStage::directory_renamed);
  try {
    write_file_atomic(dir / kLatest, final_name + "\n");
  } catch (const std::runtime_error& e) {
    throw CheckpointError(e.what());
  }
  prune(dir, final_name, keep_last);
}

}  // namespace

std::filesystem::path save_checkpoint(const CheckpointOptions& options, const TrainerState& state,
                                      const RankState& rank, Communicator& world) {
  const std::string final_name = step_dir_name(state.step);
  const std::filesystem::path target = options.dir / final_name;

  // Phase 1: a bad RankState anywhere, or rank 0 unable to create the temporary, stops every rank.
  std::string error = rank_state_problem(rank, "save_checkpoint");
  std::string tmp_name;
  if (world.rank() == 0 && error.empty()) {
    try {
      tmp_name = prepare_temporary(options.dir, final_name);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  agree(world, error, target, tmp_name.empty() ? std::filesystem::path() : options.dir / tmp_name);
  tmp_name = all_gather_strings(world, world.rank() == 0 ? tmp_name : std::string())[0];
  const std::filesystem::path tmp = options.dir / tmp_name;

  // Phase 2: every rank with a non-empty shard writes its file; reports go to rank 0.
  std::optional<RankFileEntry> file;
  try {
    if (rank.shard_end > rank.shard_begin) {
      file = write_rank_file(tmp, rank);
      run_hook(SaveStage::rank_file_written);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  agree(world, error, target, tmp);
  const std::vector<std::string> reports = all_gather_strings(world, rank_report(rank, state.step, file).dump());

  // Phase 3: rank 0 publishes.
  if (world.rank() == 0) {
    try {
      commit(options.dir, tmp, final_name, build_manifest(reports, state, rank, target), options.keep_last);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  agree(world, error, target, tmp);  // also the final barrier: nobody returns before `latest` is written
  return target;
}

}  // namespace kiln
