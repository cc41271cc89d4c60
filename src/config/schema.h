// The config schema: one declaration per config field, the single source of truth for its YAML
// key, type, default, allowed range and documentation.
//
// The loader parses and range-checks values through it, the emitter writes resolved configs
// through it, and `kiln config reference` generates docs/config-reference.md from it. Section
// keys ("model", "model.init", …) are implied by the dotted field keys.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config.h"

namespace kiln {

class Field {
 public:
  virtual ~Field() = default;

  const std::string& key() const { return key_; }
  const std::string& doc() const { return doc_; }
  const std::string& section() const { return section_; }
  std::string_view leaf() const { return std::string_view(key_).substr(key_.rfind('.') + 1); }

  virtual std::string type_name() const = 0;
  virtual std::string allowed() const = 0;       // "" when any value of the type is allowed
  virtual std::string default_text() const = 0;  // "required", a value, or how it is derived
  virtual bool required() const = 0;

  virtual void set_default(Config&) const = 0;
  // Parses `node` into the field; returns the error text (without location) on failure.
  virtual std::optional<std::string> parse(Config&, const YAML::Node& node) const = 0;
  // The field's value as YAML; a Null node for an unset optional.
  virtual YAML::Node emit(const Config&) const = 0;

 protected:
  explicit Field(std::string key);
  std::string key_, section_, doc_;
};

class Schema {
 public:
  static const Schema& instance();

  const std::vector<std::unique_ptr<Field>>& fields() const { return fields_; }
  const Field* find(std::string_view key) const;
  // True for "model", "model.init", …: keys that hold a mapping of fields.
  bool is_section(std::string_view key) const;
  const std::vector<std::string>& sections() const { return sections_; }
  // Every field key and section key, for suggestions.
  std::vector<std::string> all_keys() const;

  // A Config holding every default; optional fields unset, required fields zero.
  Config defaults() const;

  template <class T>
  class Builder;

 private:
  Schema();
  std::vector<std::unique_ptr<Field>> fields_;
  std::vector<std::string> sections_;
};

// Shortest text that reads back to the same double, always with a '.' so that YAML 1.1 readers
// (PyYAML) see a float: 0.001, 1.0e-08, 3.0.
std::string format_double(double value);

}  // namespace kiln
