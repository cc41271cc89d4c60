// Loading a run config: YAML files with includes, command-line overrides, schema defaults,
// derived fields, and validation.
//
// Resolution order (later wins): schema defaults < `base:` files (depth first, in list order) <
// the file itself < `--set` overrides. Then optional fields are derived (ffn size, gradient
// accumulation, warmup steps, …) and cross-field consistency is checked.
//
// Every problem is collected and thrown as one ConfigError; nothing is returned half-checked.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/config_error.h"

namespace kiln {

// "file:line:column" (1-based) of a YAML node, or the file alone when the node has no mark.
std::string yaml_location(const std::string& file, const YAML::Mark& mark);

// A `--set key=value` override; the value is read as YAML (`[a, b]` is a list).
struct Override {
  std::string key;
  std::string value;
  std::string text() const { return "--set " + key + "=" + value; }
};
Override parse_override(std::string_view arg);  // throws ConfigError when there is no '='

struct LoadedConfig {
  Config config;
  std::vector<std::string> files;              // every file read, bases first
  std::map<std::string, std::string> origins;  // key → "file:line:col" or "--set key=value"

  // Where the key's value came from, for messages: its origin, or "default" / "derived".
  std::string origin(const std::string& key) const;
};

LoadedConfig load_config(const std::filesystem::path& file, const std::vector<Override>& overrides = {});

// For trees made in memory (the GPT-NeoX importer): `source` names the tree in messages and its
// stem becomes the default run name. `base:` paths are resolved against `base_dir`.
LoadedConfig load_config_tree(const YAML::Node& root, const std::string& source,
                              const std::vector<Override>& overrides = {},
                              const std::filesystem::path& base_dir = ".");

// Fills the optional fields that were left out (see each field's "derived" text in the schema).
void derive(Config& config, const std::string& default_name);

// Cross-field checks; each diagnostic names every key involved with where it was set.
std::vector<Diagnostic> check_consistency(const LoadedConfig& loaded);

}  // namespace kiln
