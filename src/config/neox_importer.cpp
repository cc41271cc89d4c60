// The GPT-NeoX importer's bookkeeping: reading the file's keys, recording what each one becomes,
// accounting for every key, and building the kiln tree. The mapping itself is in neox_map_*.cpp.
#include "config/neox_importer.h"

#include <algorithm>
#include <stdexcept>

#include "config/neox_keys.h"
#include "config/scalar.h"
#include "config/loader.h"
#include "util/suggest.h"

namespace kiln::neox {

std::string normalise(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string shown(const Entry& e) {
  return "'" + e.written + (e.value.IsScalar() ? ": " + e.value.Scalar() : "") + "'";
}

NeoxImport Importer::run(const YAML::Node& root) {
  read_top(root);
  parallelism();
  model();
  unsupported_features();
  optimizer();
  schedule();
  batch_and_data();
  run_settings();
  precision();
  regularisation();
  leftovers();
  return finish();
}

// ---- reading ----------------------------------------------------------------------------

void Importer::read_top(const YAML::Node& root) {
  for (auto& [name, e] : children(root, "")) {
    order_.push_back(name);
    top_.emplace(name, std::move(e));
  }
}

std::vector<std::pair<std::string, Entry>> Importer::children(const YAML::Node& map, const std::string& prefix) {
  std::vector<std::pair<std::string, Entry>> out;
  std::map<std::string, YAML::Mark> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    Entry e{prefix + (it->first.IsScalar() ? it->first.Scalar() : "?"), it->first, it->second};
    if (!it->first.IsScalar()) {
      refuse(&e, "keys must be plain names");
      continue;
    }
    const std::string name = normalise(it->first.Scalar());
    if (auto [pos, fresh] = seen.emplace(name, it->first.Mark()); !fresh) {
      refuse(&e, "duplicates the key at line " + std::to_string(pos->second.line + 1) +
                     " (GPT-NeoX reads hyphens as underscores); keep one");
      continue;
    }
    out.emplace_back(name, std::move(e));
  }
  return out;
}

const Entry* Importer::take(const std::string& name) {
  taken_.insert(name);
  auto it = top_.find(name);
  return it == top_.end() || it->second.value.IsNull() ? nullptr : &it->second;
}

std::optional<int64_t> Importer::int_of(const Entry* e) {
  if (!e) return std::nullopt;
  if (e->value.IsScalar())
    if (auto v = parse_int(e->value.Scalar())) return v;
  refuse(e, "expected an integer");
  return std::nullopt;
}

std::optional<double> Importer::num_of(const Entry* e) {
  if (!e) return std::nullopt;
  if (e->value.IsScalar())
    if (auto v = parse_float(e->value.Scalar())) return v;
  refuse(e, "expected a number");
  return std::nullopt;
}

std::optional<bool> Importer::bool_of(const Entry* e) {
  if (!e) return std::nullopt;
  if (e->value.IsScalar())
    if (auto v = parse_bool(e->value.Scalar())) return v;
  refuse(e, "expected true or false");
  return std::nullopt;
}

std::optional<std::string> Importer::str_of(const Entry* e) {
  if (!e) return std::nullopt;
  if (e->value.IsScalar()) return e->value.Scalar();
  refuse(e, "expected a single value");
  return std::nullopt;
}

std::optional<std::vector<std::string>> Importer::strs_of(const Entry* e) {
  if (!e) return std::nullopt;
  std::vector<std::string> out;
  if (e->value.IsSequence())
    for (const auto& item : e->value) {
      if (!item.IsScalar()) break;
      out.push_back(item.Scalar());
    }
  if (!e->value.IsSequence() || out.size() != e->value.size()) {
    refuse(e, "expected a list of paths");
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<double>> Importer::nums_of(const Entry* e) {
  if (!e) return std::nullopt;
  std::vector<double> out;
  if (e->value.IsSequence())
    for (const auto& item : e->value) {
      auto v = item.IsScalar() ? parse_float(item.Scalar()) : std::nullopt;
      if (!v) break;
      out.push_back(*v);
    }
  if (!e->value.IsSequence() || out.size() != e->value.size()) {
    refuse(e, "expected a list of numbers");
    return std::nullopt;
  }
  return out;
}

bool Importer::is_map(const Entry* e) {
  if (e && !e->value.IsMap()) refuse(e, "expected a mapping");
  return e && e->value.IsMap();
}

// ---- writing ----------------------------------------------------------------------------

std::optional<int64_t> Importer::map_int(const char* neox, const char* key) {
  const Entry* e = take(neox);
  auto v = int_of(e);
  if (v) put(key, *v, e);
  return v;
}

std::optional<bool> Importer::map_bool(const char* neox, const char* key) {
  const Entry* e = take(neox);
  auto v = bool_of(e);
  if (v) put(key, *v, e);
  return v;
}

void Importer::refuse(const Entry* e, const std::string& why) {
  const YAML::Mark m = e->key.Mark();
  problems_.push_back({m.line, m.column, {yaml_location(file_, m), shown(*e) + ": " + why}});
}

void Importer::refuse_missing(const std::string& name, const std::string& why) {
  problems_.push_back({INT_MAX, INT_MAX, {file_, "'" + name + "' is not set: " + why}});
}

// ---- the end ----------------------------------------------------------------------------

void Importer::leftovers() {
  for (const auto& name : order_) {
    if (taken_.count(name)) continue;
    const Entry& e = top_.at(name);
    const bool infrastructure =
        kInfrastructure.count(name) ||
        std::any_of(kInfrastructurePrefixes.begin(), kInfrastructurePrefixes.end(),
                    [&](const std::string& p) { return name.starts_with(p); });
    if (infrastructure || kImplementation.count(name) || (kMupOnly.count(name) && !mup_)) {
      ignore(e);
    } else if (!kMupOnly.count(name)) {
      std::vector<std::string> known(taken_.begin(), taken_.end());
      known.insert(known.end(), kInfrastructure.begin(), kInfrastructure.end());
      known.insert(known.end(), kImplementation.begin(), kImplementation.end());
      auto guess = closest_match(name, known);
      refuse(&e, "unknown GPT-NeoX key; kiln cannot tell whether it changes the math" +
                     (guess ? " (did you mean '" + *guess + "'?)" : std::string()));
    }
  }
}

// Checks every value against its kiln field (so a bad value is reported at its NeoX key), then
// builds the tree in schema order.
NeoxImport Importer::finish() {
  const Schema& schema = Schema::instance();
  for (const auto& [key, em] : out_) {
    const Field* field = schema.find(key);
    if (!field) throw std::logic_error("GPT-NeoX import writes '" + key + "', which is not a kiln key");
    Config scratch = schema.defaults();
    if (auto err = field->parse(scratch, em.value))
      problems_.push_back({em.line, em.column, {em.where, em.label + " gives " + key + ", which " + *err}});
  }
  if (!problems_.empty()) {
    std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    std::vector<Diagnostic> diagnostics;
    for (auto& p : problems_) diagnostics.push_back(std::move(p.diagnostic));
    throw ConfigError(std::move(diagnostics));
  }

  NeoxImport result;
  result.config = YAML::Node(YAML::NodeType::Map);
  for (const auto& field : schema.fields()) {
    auto it = out_.find(field->key());
    if (it == out_.end()) continue;
    YAML::Node node = result.config;
    const std::string& key = field->key();
    size_t start = 0;
    for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1)
      node.reset(node[key.substr(start, dot - start)]);
    node[key.substr(start)] = it->second.value;
  }
  std::stable_sort(ignored_.begin(), ignored_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [line, key] : ignored_) result.ignored.push_back(std::move(key));
  result.notes = std::move(notes_);
  return result;
}

}  // namespace kiln::neox

namespace kiln {

NeoxImport import_neox(const std::filesystem::path& file, const NeoxImportOptions& options) {
  const std::string name = file.string();
  if (!std::filesystem::is_regular_file(file))
    throw ConfigError(Diagnostic{name, "GPT-NeoX config '" + name + "' does not exist or is not a file"});
  YAML::Node root;
  try {
    root = YAML::LoadFile(name);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(Diagnostic{yaml_location(name, e.mark), "YAML syntax error: " + e.msg});
  } catch (const YAML::BadFile&) {
    throw ConfigError(Diagnostic{name, "cannot read GPT-NeoX config '" + name + "'"});
  }
  if (!root.IsMap())
    throw ConfigError(Diagnostic{yaml_location(name, root.Mark()), "a GPT-NeoX config must be a mapping of keys"});
  return neox::Importer(name, options).run(root);
}

}  // namespace kiln
