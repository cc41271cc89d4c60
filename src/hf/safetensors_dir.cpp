// A model directory's weights: one file, or shards behind model.safetensors.index.json.
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hf/safetensors.h"

namespace kiln::hf {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

SafetensorsDir::SafetensorsDir(const std::filesystem::path& dir) : dir_(dir) {
  const auto index_path = dir / "model.safetensors.index.json";
  const auto single_path = dir / "model.safetensors";
  if (std::filesystem::exists(index_path)) {
    std::ifstream in(index_path);
    if (!in) throw SafetensorsError(index_path.string() + ": cannot open");
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw SafetensorsError(index_path.string() + ": not valid JSON: " + e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw SafetensorsError(index_path.string() + ": expected an object with a \"weight_map\" object");
    std::map<std::string, size_t> file_index;  // shard file name → files_ index
    for (const auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string()) throw SafetensorsError(index_path.string() + ": weight_map entry '" + name + "' is not a file name");
      const std::string shard = file.get<std::string>();
      // Shards live beside the index: a path that leaves the directory is not a shard.
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "..")
        throw SafetensorsError(index_path.string() + ": weight_map entry '" + name + "' names '" + shard +
                               "', not a file in the same directory");
      auto [it, added] = file_index.emplace(shard, files_.size());
      if (added) files_.push_back(std::make_unique<SafetensorsFile>(dir / shard));
      if (!files_[it->second]->find(name))
        throw SafetensorsError(index_path.string() + ": weight_map puts tensor '" + name + "' in " + shard +
                               ", which has no such tensor");
      where_[name] = it->second;
    }
  } else if (std::filesystem::exists(single_path)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single_path));
    for (const SafetensorInfo& t : files_.front()->tensors()) where_[t.name] = 0;
  } else {
    throw SafetensorsError(dir.string() + ": has neither model.safetensors nor model.safetensors.index.json");
  }
}

std::vector<std::string> SafetensorsDir::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& [name, _] : where_) out.push_back(name);
  return out;
}

const SafetensorsFile& SafetensorsDir::file_of(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw SafetensorsError(dir_.string() + ": tensor '" + name + "' is missing");
  return *files_[it->second];
}

const SafetensorInfo& SafetensorsDir::info(const std::string& name) const { return *file_of(name).find(name); }

void SafetensorsDir::read_f32(const std::string& name, const std::vector<int64_t>& expected_shape,
                              std::span<float> out) const {
  const SafetensorsFile& file = file_of(name);
  const SafetensorInfo& t = *file.find(name);
  if (t.shape != expected_shape)
    throw SafetensorsError(file.path().string() + ": tensor '" + name + "' has shape " + shape_text(t.shape) +
                           ", expected " + shape_text(expected_shape));
  file.read_f32(t, out);
}

}  // namespace kiln::hf
