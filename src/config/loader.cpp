#include "config/loader.h"

#include <algorithm>
#include <set>

#include "config/schema.h"
#include "util/suggest.h"

namespace kiln {

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error([&] {
        std::string text;
        for (const auto& d : diagnostics) text += (text.empty() ? "" : "\n") + d.text();
        return text;
      }()),
      diagnostics_(std::move(diagnostics)) {}

Override parse_override(std::string_view arg) {
  auto eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0)
    throw ConfigError(Diagnostic{"--set " + std::string(arg), "expected KEY=VALUE, e.g. --set optimizer.lr=3e-4"});
  return Override{std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1))};
}

std::string yaml_location(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::string LoadedConfig::origin(const std::string& key) const {
  if (auto it = origins.find(key); it != origins.end()) return it->second;
  const Field* f = Schema::instance().find(key);
  return f && f->default_text().starts_with("derived") ? "derived" : "default";
}

namespace {

struct Layer {
  YAML::Node root;
  std::string name;  // file path as given, for messages
  std::filesystem::path dir;
};

struct Entry {
  YAML::Node value;
  std::string where;
};

class Resolver {
 public:
  const Schema& schema = Schema::instance();
  std::vector<Diagnostic> errors;
  std::vector<Layer> layers;
  std::vector<std::string> files;
  std::map<std::string, Entry> entries;

  void read_file(const std::filesystem::path& path, const std::string& included_from,
                 std::vector<std::filesystem::path>& stack) {
    std::error_code ec;
    auto canonical = std::filesystem::weakly_canonical(path, ec);
    if (!std::filesystem::is_regular_file(path)) {
      errors.push_back({included_from, "config file '" + path.string() + "' does not exist or is not a file"});
      return;
    }
    if (std::find(stack.begin(), stack.end(), canonical) != stack.end()) {
      errors.push_back({included_from, "'" + path.string() + "' includes itself (base: cycle)"});
      return;
    }
    YAML::Node root;
    try {
      root = YAML::LoadFile(path.string());
    } catch (const YAML::ParserException& e) {
      errors.push_back({yaml_location(path.string(), e.mark), "YAML syntax error: " + e.msg});
      return;
    } catch (const YAML::BadFile&) {
      errors.push_back({included_from, "cannot read config file '" + path.string() + "'"});
      return;
    }
    stack.push_back(canonical);
    add_tree(root, path.string(), path.parent_path(), stack);
    stack.pop_back();
  }

  void add_tree(const YAML::Node& root, const std::string& name, const std::filesystem::path& dir,
                std::vector<std::filesystem::path>& stack) {
    if (!root.IsMap() && !root.IsNull()) {
      errors.push_back({yaml_location(name, root.Mark()), "a config must be a mapping of sections (model:, optimizer:, …)"});
      return;
    }
    if (root.IsMap())
      if (auto base = root["base"]) {
        std::vector<YAML::Node> bases;
        if (base.IsSequence())
          for (const auto& b : base) bases.push_back(b);
        else
          bases.push_back(base);
        for (const auto& b : bases) {
          if (!b.IsScalar() || b.Scalar().empty()) {
            errors.push_back({yaml_location(name, b.Mark()), "base: expected a config file path or a list of them"});
            continue;
          }
          std::filesystem::path p = b.Scalar();
          read_file(p.is_absolute() ? p : dir / p, yaml_location(name, b.Mark()), stack);
        }
      }
    files.push_back(name);
    layers.push_back({root, name, dir});
  }

  void flatten(const YAML::Node& map, const std::string& prefix, const std::string& name) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node k = it->first;  // copies: it-> yields a temporary proxy
      const YAML::Node v = it->second;
      if (!k.IsScalar()) {
        errors.push_back({yaml_location(name, k.Mark()), "keys must be plain names"});
        continue;
      }
      const std::string key = prefix.empty() ? k.Scalar() : prefix + "." + k.Scalar();
      if (prefix.empty() && key == "base") continue;
      if (!seen.insert(k.Scalar()).second) {
        errors.push_back({yaml_location(name, k.Mark()), "duplicate key '" + key + "'"});
        continue;
      }
      if (schema.find(key)) {
        entries[key] = Entry{v, yaml_location(name, v.IsNull() ? k.Mark() : v.Mark())};
      } else if (schema.is_section(key)) {
        if (v.IsMap())
          flatten(v, key, name);
        else if (!v.IsNull())
          errors.push_back({yaml_location(name, v.Mark()), "'" + key + "' is a section: expected a mapping of its keys"});
      } else {
        errors.push_back({yaml_location(name, k.Mark()), unknown_key_message(key, prefix)});
      }
    }
  }

  std::string unknown_key_message(const std::string& key, const std::string& prefix) const {
    std::string msg = "unknown key '" + key + "'";
    // Siblings first (a typo inside the right section), then any key anywhere (a key put in the
    // wrong section, or written without its section).
    std::vector<std::string> siblings, leaves_elsewhere;
    const std::string leaf = key.substr(key.rfind('.') + 1);
    for (const auto& k : schema.all_keys()) {
      auto dot = k.rfind('.');
      std::string k_section = dot == std::string::npos ? "" : k.substr(0, dot);
      if (k_section == prefix) siblings.push_back(k.substr(dot == std::string::npos ? 0 : dot + 1));
    }
    if (auto s = closest_match(leaf, siblings)) {
      return msg + "; did you mean '" + (prefix.empty() ? *s : prefix + "." + *s) + "'?";
    }
    for (const auto& k : schema.all_keys()) {
      std::string kl = k.substr(k.rfind('.') == std::string::npos ? 0 : k.rfind('.') + 1);
      if (closest_match(leaf, {kl})) leaves_elsewhere.push_back(k);
    }
    if (!leaves_elsewhere.empty()) return msg + "; did you mean '" + leaves_elsewhere.front() + "'?";
    std::string valid;
    for (const auto& s : siblings) valid += (valid.empty() ? "" : ", ") + s;
    return msg + (prefix.empty() ? "; the sections are: " : "; '" + prefix + "' has: ") + valid;
  }

  void apply_override(const Override& o) {
    if (!schema.find(o.key)) {
      std::vector<std::string> keys;
      for (const auto& f : schema.fields()) keys.push_back(f->key());
      auto s = closest_match(o.key, keys);
      errors.push_back({o.text(), "unknown key '" + o.key + "'" + (s ? "; did you mean '" + *s + "'?" : "")});
      return;
    }
    YAML::Node value;
    try {
      value = YAML::Load(o.value);
    } catch (const YAML::Exception&) {
      value = YAML::Node(o.value);  // not YAML: take the text as a string and let the field judge it
    }
    entries[o.key] = Entry{value, o.text()};
  }

  void flatten_layers() {
    for (const auto& layer : layers)
      if (layer.root.IsMap()) flatten(layer.root, "", layer.name);
  }

  LoadedConfig build() {
    const std::string top_name = layers.empty() ? std::string() : layers.back().name;
    LoadedConfig out;
    out.config = schema.defaults();
    out.files = files;
    for (const auto& f : schema.fields()) {
      auto it = entries.find(f->key());
      if (it == entries.end()) {
        if (f->required())
          errors.push_back({top_name, "missing required key '" + f->key() + "' (" + f->type_name() +
                                          (f->allowed().empty() ? "" : " " + f->allowed()) + ")"});
        continue;
      }
      if (auto err = f->parse(out.config, it->second.value))
        errors.push_back({it->second.where, f->key() + ": " + *err});
      out.origins[f->key()] = it->second.where;
    }
    return out;
  }
};

std::string stem_of(const std::string& source) { return std::filesystem::path(source).stem().string(); }

LoadedConfig finish(Resolver& r, const std::string& top_name, const std::vector<Override>& overrides) {
  r.flatten_layers();
  for (const auto& o : overrides) r.apply_override(o);  // after the files: overrides win
  LoadedConfig loaded = r.build();
  if (!r.errors.empty()) throw ConfigError(r.errors);
  derive(loaded.config, stem_of(top_name));
  if (auto problems = check_consistency(loaded); !problems.empty()) throw ConfigError(problems);
  return loaded;
}

}  // namespace

LoadedConfig load_config(const std::filesystem::path& file, const std::vector<Override>& overrides) {
  Resolver r;
  std::vector<std::filesystem::path> stack;
  r.read_file(file, "", stack);
  if (!r.errors.empty()) throw ConfigError(r.errors);
  return finish(r, file.string(), overrides);
}

LoadedConfig load_config_tree(const YAML::Node& root, const std::string& source,
                              const std::vector<Override>& overrides, const std::filesystem::path& base_dir) {
  Resolver r;
  std::vector<std::filesystem::path> stack;
  r.add_tree(root, source, base_dir, stack);
  if (!r.errors.empty()) throw ConfigError(r.errors);
  return finish(r, source, overrides);
}

}  // namespace kiln
