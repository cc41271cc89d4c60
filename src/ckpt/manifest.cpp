#include "ckpt/manifest.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ckpt/fs.h"

namespace kiln::ckpt {
namespace {

using nlohmann::json;

// A semantic problem found after the JSON itself parsed; parse_manifest adds the file's name.
struct Bad : std::runtime_error {
  using std::runtime_error::runtime_error;
};

json shape_json(const Shape& s) { return json(std::vector<int64_t>(s.dims().begin(), s.dims().end())); }

Shape shape_from(const json& j, const std::string& what) {
  std::vector<int64_t> dims = j.get<std::vector<int64_t>>();
  if (dims.size() > static_cast<size_t>(Shape::kMaxRank) || std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 1; }))
    throw Bad(what + ": shape " + j.dump() + " is not a valid tensor shape");
  return Shape(std::span<const int64_t>(dims));
}

json tensor_json(const TensorEntry& t) {
  return {{"name", t.name},     {"shape", shape_json(t.shape)}, {"global_shape", shape_json(t.global_shape)},
          {"split_dim", t.split_dim}, {"begin", t.begin},      {"offset", t.offset}};
}

TensorEntry tensor_from(const json& j) {
  TensorEntry t;
  t.name = j.at("name").get<std::string>();
  t.shape = shape_from(j.at("shape"), "tensor " + t.name);
  t.global_shape = shape_from(j.at("global_shape"), "tensor " + t.name);
  t.split_dim = j.at("split_dim").get<int>();
  t.begin = j.at("begin").get<int64_t>();
  t.offset = j.at("offset").get<int64_t>();
  return t;
}

json layout_json(const TpRankLayout& l) {
  json tensors = json::array();
  for (const TensorEntry& t : l.tensors) tensors.push_back(tensor_json(t));
  return {{"tp_rank", l.tp_rank}, {"flat_numel", l.flat_numel}, {"tensors", std::move(tensors)}};
}

TpRankLayout layout_from(const json& j) {
  TpRankLayout l;
  l.tp_rank = j.at("tp_rank").get<int>();
  l.flat_numel = j.at("flat_numel").get<int64_t>();
  for (const json& t : j.at("tensors")) l.tensors.push_back(tensor_from(t));
  return l;
}

json file_json(const RankFileEntry& f) {
  json arrays = json::object();
  for (int k = 0; k < kArrayKinds; ++k) {
    const ArrayEntry& a = f.arrays[k];
    arrays[std::string(array_name(static_cast<ArrayKind>(k)))] = {
        {"offset", a.offset}, {"bytes", a.bytes}, {"crc32", a.crc32}};
  }
  return {{"file", f.file},
          {"tp_rank", f.tp_rank},
          {"dp_rank", f.dp_rank},
          {"shard", {f.shard_begin, f.shard_end}},
          {"bytes", f.bytes},
          {"arrays", std::move(arrays)}};
}

RankFileEntry file_from(const json& j) {
  RankFileEntry f;
  f.file = j.at("file").get<std::string>();
  f.tp_rank = j.at("tp_rank").get<int>();
  f.dp_rank = j.at("dp_rank").get<int>();
  const auto shard = j.at("shard").get<std::vector<int64_t>>();
  if (shard.size() != 2) throw Bad("file " + f.file + ": \"shard\" must be [begin, end]");
  f.shard_begin = shard[0];
  f.shard_end = shard[1];
  f.bytes = j.at("bytes").get<uint64_t>();
  const json& arrays = j.at("arrays");
  for (int k = 0; k < kArrayKinds; ++k) {
    const json& a = arrays.at(std::string(array_name(static_cast<ArrayKind>(k))));
    f.arrays[k] = {a.at("offset").get<uint64_t>(), a.at("bytes").get<uint64_t>(), a.at("crc32").get<uint32_t>()};
  }
  return f;
}

json trainer_json(const TrainerState& s) {
  return {{"step", s.step},
          {"optimizer_steps", s.optimizer_steps},
          {"data_next_sample", s.data_next_sample},
          {"data_fingerprint", s.data_fingerprint},
          {"data_blend_counts", s.data_blend_counts}};
}

TrainerState trainer_from(const json& j) {
  TrainerState s;
  s.step = j.at("step").get<int64_t>();
  s.optimizer_steps = j.at("optimizer_steps").get<int64_t>();
  s.data_next_sample = j.at("data_next_sample").get<uint64_t>();
  s.data_fingerprint = j.at("data_fingerprint").get<uint64_t>();
  s.data_blend_counts = j.at("data_blend_counts").get<std::vector<uint64_t>>();
  return s;
}

DType dtype_from(const json& j) {
  const std::string s = j.get<std::string>();
  if (s == "fp32") return DType::fp32;
  if (s == "bf16") return DType::bf16;
  throw Bad("layout.param_dtype \"" + s + "\" is neither fp32 nor bf16");
}

void check_layout(const TpRankLayout& l, int tp_size, const TpRankLayout& first) {
  const std::string who = "tp rank " + std::to_string(l.tp_rank);
  if (l.flat_numel < 0) throw Bad(who + ": negative flat_numel");
  if (l.tensors.size() != first.tensors.size())
    throw Bad(who + " has " + std::to_string(l.tensors.size()) + " tensors, tp rank 0 has " +
              std::to_string(first.tensors.size()));
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    const TensorEntry& t = l.tensors[i];
    const std::string what = who + ", tensor " + t.name;
    if (t.name != first.tensors[i].name || t.global_shape != first.tensors[i].global_shape)
      throw Bad(what + ": differs from tp rank 0's tensor " + std::to_string(i) + " (" + first.tensors[i].name + " " +
                first.tensors[i].global_shape.to_string() + ")");
    if (t.offset < 0 || t.offset + t.shape.numel() > l.flat_numel)
      throw Bad(what + ": elements [" + std::to_string(t.offset) + ", " + std::to_string(t.offset + t.shape.numel()) +
                ") lie outside the flat buffer of " + std::to_string(l.flat_numel));
    if (t.split_dim < 0) {
      if (t.split_dim != -1 || t.shape != t.global_shape || t.begin != 0)
        throw Bad(what + ": a replicated tensor must have its global shape and begin 0");
      continue;
    }
    const int d = t.split_dim;
    if (d >= t.global_shape.rank() || t.shape.rank() != t.global_shape.rank() ||
        t.shape != t.global_shape.with_dim(d, t.shape[d]) || t.shape[d] * tp_size != t.global_shape[d] ||
        t.begin != static_cast<int64_t>(l.tp_rank) * t.shape[d])
      throw Bad(what + ": local shape " + t.shape.to_string() + ", split dim " + std::to_string(d) + ", begin " +
                std::to_string(t.begin) + " are not tp rank " + std::to_string(l.tp_rank) + "'s block of " +
                std::to_string(tp_size) + " of the global shape " + t.global_shape.to_string());
  }
}

void check_file(const RankFileEntry& f, const Manifest& m) {
  const std::string who = "file " + f.file;
  if (f.file.empty() || f.file.find('/') != std::string::npos || f.file == "." || f.file == "..")
    throw Bad(who + ": a rank file must be a plain name inside the checkpoint directory");
  if (f.tp_rank < 0 || f.tp_rank >= m.tp_size || f.dp_rank < 0 || f.dp_rank >= m.dp_size)
    throw Bad(who + ": (tp rank " + std::to_string(f.tp_rank) + ", dp rank " + std::to_string(f.dp_rank) +
              ") is outside the layout " + std::to_string(m.tp_size) + " × " + std::to_string(m.dp_size));
  if (f.shard_begin < 0 || f.shard_end <= f.shard_begin)
    throw Bad(who + ": empty or negative shard [" + std::to_string(f.shard_begin) + ", " + std::to_string(f.shard_end) + ")");
  uint64_t at = 0;
  for (int k = 0; k < kArrayKinds; ++k) {
    const uint64_t elem = k == 0 ? size_of(m.param_dtype) : sizeof(float);
    const ArrayEntry& a = f.arrays[k];
    if (a.offset != at || a.bytes != static_cast<uint64_t>(f.numel()) * elem)
      throw Bad(who + ": array " + std::string(array_name(static_cast<ArrayKind>(k))) + " should lie at byte " +
                std::to_string(at) + " with " + std::to_string(static_cast<uint64_t>(f.numel()) * elem) +
                " bytes, the manifest says byte " + std::to_string(a.offset) + " with " + std::to_string(a.bytes));
    at += a.bytes;
  }
  if (f.bytes != at) throw Bad(who + ": size " + std::to_string(f.bytes) + " differs from its arrays' " + std::to_string(at));
}

// Every element of each TP rank's flat buffer lies in some file's shard.
void check_coverage(const Manifest& m) {
  for (const TpRankLayout& l : m.layouts) {
    int64_t covered = 0;
    for (const RankFileEntry& f : m.files) {
      if (f.tp_rank != l.tp_rank) continue;
      if (f.shard_begin > covered) break;
      covered = std::max(covered, f.shard_end);
    }
    if (covered < l.flat_numel)
      throw Bad("tp rank " + std::to_string(l.tp_rank) + ": elements [" + std::to_string(covered) + ", " +
                std::to_string(l.flat_numel) + ") of its flat buffer are in no rank file");
  }
}

Manifest manifest_from(const json& j) {
  if (!j.is_object()) throw Bad("not a JSON object");
  const std::string format = j.at("format").get<std::string>();
  if (format != kFormat) throw Bad("format is \"" + format + "\", expected \"" + std::string(kFormat) + "\"");
  const int version = j.at("version").get<int>();
  if (version != kVersion)
    throw Bad("version " + std::to_string(version) + " is not supported (this build reads version " +
              std::to_string(kVersion) + ")");
  Manifest m;
  m.step = j.at("step").get<int64_t>();
  const json& layout = j.at("layout");
  m.tp_size = layout.at("tp").get<int>();
  m.dp_size = layout.at("dp").get<int>();
  m.optimizer_sharded = layout.at("optimizer_sharded").get<bool>();
  m.param_dtype = dtype_from(layout.at("param_dtype"));
  if (m.tp_size < 1 || m.dp_size < 1) throw Bad("layout tp and dp must be at least 1");
  m.trainer = trainer_from(j.at("trainer_state"));
  m.trainer.config_yaml = j.at("config").get<std::string>();
  for (const json& l : j.at("tensors")) m.layouts.push_back(layout_from(l));
  for (const json& f : j.at("files")) m.files.push_back(file_from(f));

  if (m.layouts.size() != static_cast<size_t>(m.tp_size))
    throw Bad("\"tensors\" has " + std::to_string(m.layouts.size()) + " TP layouts for tp " + std::to_string(m.tp_size));
  for (size_t r = 0; r < m.layouts.size(); ++r) {
    if (m.layouts[r].tp_rank != static_cast<int>(r)) throw Bad("\"tensors\"[" + std::to_string(r) + "] is not tp rank " + std::to_string(r));
    check_layout(m.layouts[r], m.tp_size, m.layouts[0]);
  }
  for (const RankFileEntry& f : m.files) check_file(f, m);
  std::sort(m.files.begin(), m.files.end(), [](const RankFileEntry& a, const RankFileEntry& b) {
    return std::tie(a.tp_rank, a.shard_begin) < std::tie(b.tp_rank, b.shard_begin);
  });
  check_coverage(m);
  return m;
}

}  // namespace

std::string_view array_name(ArrayKind k) {
  switch (k) {
    case ArrayKind::params: return "params";
    case ArrayKind::masters: return "masters";
    case ArrayKind::m: return "m";
    case ArrayKind::v: return "v";
  }
  return "?";
}

TpRankLayout describe_layout(const TpLayout& layout) {
  TpRankLayout l;
  l.tp_rank = layout.tp_rank();
  l.flat_numel = layout.registry().total_numel();
  for (size_t i = 0; i < layout.registry().size(); ++i) {
    const ParamEntry& e = layout.registry().entries()[i];
    const ParamShard& s = layout.shard(i);
    l.tensors.push_back({e.name, e.shape, s.global_shape, s.split_dim, s.begin, e.offset});
  }
  return l;
}

std::string manifest_to_json(const Manifest& m) {
  json layouts = json::array();
  for (const TpRankLayout& l : m.layouts) layouts.push_back(layout_json(l));
  json files = json::array();
  for (const RankFileEntry& f : m.files) files.push_back(file_json(f));
  const json j = {{"format", kFormat},
                  {"version", kVersion},
                  {"step", m.step},
                  {"layout",
                   {{"tp", m.tp_size},
                    {"dp", m.dp_size},
                    {"optimizer_sharded", m.optimizer_sharded},
                    {"param_dtype", std::string(name(m.param_dtype))}}},
                  {"trainer_state", trainer_json(m.trainer)},
                  {"config", m.trainer.config_yaml},
                  {"tensors", std::move(layouts)},
                  {"files", std::move(files)}};
  return j.dump(1) + "\n";
}

Manifest parse_manifest(std::string_view text, const std::filesystem::path& where) {
  try {
    return manifest_from(json::parse(text));
  } catch (const json::exception& e) {
    throw CheckpointError(where.string() + ": bad manifest: " + e.what());
  } catch (const Bad& e) {
    throw CheckpointError(where.string() + ": bad manifest: " + e.what());
  } catch (const std::invalid_argument& e) {  // Shape
    throw CheckpointError(where.string() + ": bad manifest: " + e.what());
  }
}

Manifest read_manifest(const std::filesystem::path& checkpoint) {
  const std::filesystem::path path = checkpoint / "manifest.json";
  return parse_manifest(read_text_file(path), path);
}

std::string rank_file_to_json(const RankFileEntry& f) { return file_json(f).dump(); }
RankFileEntry rank_file_from_json(std::string_view text) { return file_from(json::parse(text)); }
std::string layout_to_json(const TpRankLayout& l) { return layout_json(l).dump(); }
TpRankLayout layout_from_json(std::string_view text) { return layout_from(json::parse(text)); }

}  // namespace kiln::ckpt
