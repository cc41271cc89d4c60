// The GPT-NeoX importer's internals, shared by its source files. Not part of the public API: that
// is config/neox_import.h, whose contract this implements.
//
// One Importer reads one file:
//   neox_importer.cpp       reading the file (normalised keys, duplicates, take/ignore/refuse
//                           bookkeeping), writing the kiln tree, and import_neox();
//   neox_map_model.cpp      model, architecture, parallelism, bias, vocabulary and dropout keys;
//   neox_map_training.cpp   optimizer, schedule, batch, data, checkpoint, logging, precision and
//                           evaluation keys;
//   neox_keys.h             the keys ignored by name, and the well-known tokenizers.
#pragma once

#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config_error.h"
#include "config/loader.h"
#include "config/neox_import.h"
#include "config/schema.h"

namespace kiln::neox {

// One key of the NeoX file; nested keys are written "parent.child".
struct Entry {
  std::string written;  // as in the file, for messages and the ignored list
  YAML::Node key, value;
};

// GPT-NeoX reads `hidden-size` and `hidden_size` alike.
std::string normalise(std::string name);

// "'pipe-parallel-size: 2'" (scalars show their value), "'attention-config'" otherwise.
std::string shown(const Entry& e);

inline YAML::Node to_node(int64_t v) { return YAML::Node(v); }
inline YAML::Node to_node(double v) { return YAML::Node(format_double(v)); }  // as the schema emits it
inline YAML::Node to_node(bool v) { return YAML::Node(v); }
inline YAML::Node to_node(const std::string& v) { return YAML::Node(v); }
inline YAML::Node to_node(const char* v) { return YAML::Node(std::string(v)); }
template <class X>
YAML::Node to_node(const std::vector<X>& v) {
  YAML::Node n(YAML::NodeType::Sequence);
  for (const auto& x : v) n.push_back(to_node(x));
  n.SetStyle(YAML::EmitterStyle::Flow);
  return n;
}

class Importer {
 public:
  Importer(std::string file, const NeoxImportOptions& options) : file_(std::move(file)), options_(options) {}

  NeoxImport run(const YAML::Node& root);

 private:
  struct Emitted {
    YAML::Node value;
    std::string where, label;  // where the value came from, for messages
    int line = INT_MAX, column = INT_MAX;
  };
  struct Problem {
    int line, column;  // for ordering; INT_MAX for the file as a whole
    Diagnostic diagnostic;
  };

  std::string file_;
  NeoxImportOptions options_;
  std::map<std::string, Entry> top_;  // by normalised name
  std::vector<std::string> order_;    // normalised names in file order
  std::set<std::string> taken_;       // names the importer asked for, present or not
  std::map<std::string, Emitted> out_;
  std::vector<Problem> problems_;
  std::vector<std::pair<int, std::string>> ignored_;  // (line, key)
  std::vector<std::string> notes_;
  int64_t tensor_ = 1;
  std::string norm_ = "layernorm", precision_;
  bool mup_ = false;

  // ---- reading (neox_importer.cpp) ----------------------------------------------------------

  void read_top(const YAML::Node& root);

  // The keys of a mapping by normalised name. Two spellings of one key would leave it unclear
  // which one GPT-NeoX used, so the second is refused.
  std::vector<std::pair<std::string, Entry>> children(const YAML::Node& map, const std::string& prefix);

  // The entry for a normalised top-level name, or nullptr when absent or null (GPT-NeoX reads null
  // as "use the default").
  const Entry* take(const std::string& name);

  // The value of an entry, or nullopt when there is no entry or (refused) a value of another kind.
  std::optional<int64_t> int_of(const Entry* e);
  std::optional<double> num_of(const Entry* e);
  std::optional<bool> bool_of(const Entry* e);
  std::optional<std::string> str_of(const Entry* e);
  std::optional<std::vector<std::string>> strs_of(const Entry* e);
  std::optional<std::vector<double>> nums_of(const Entry* e);
  bool is_map(const Entry* e);

  // ---- writing (neox_importer.cpp) ----------------------------------------------------------

  // Records kiln `key` = `value`, taken from `from` (nullptr: GPT-NeoX's default for a key the
  // file leaves out).
  template <class T>
  void put(const std::string& key, const T& value, const Entry* from) {
    if (from)
      out_[key] = {to_node(value), yaml_location(file_, from->key.Mark()), shown(*from), from->key.Mark().line,
                   from->key.Mark().column};
    else
      out_[key] = {to_node(value), file_, "GPT-NeoX's default"};
  }

  // The common case: a NeoX key whose value kiln takes as it is.
  std::optional<int64_t> map_int(const char* neox, const char* key);
  std::optional<bool> map_bool(const char* neox, const char* key);

  void refuse(const Entry* e, const std::string& why);
  void refuse_missing(const std::string& name, const std::string& why);
  void ignore(const Entry& e) { ignored_.emplace_back(e.key.Mark().line, e.written); }
  void note(std::string text) { notes_.push_back(std::move(text)); }

  // ---- the model (neox_map_model.cpp) -------------------------------------------------------

  void parallelism();
  void model();
  void norms();
  void positions();
  void mlp();
  void unsupported_features();
  void residual_and_embeddings();
  void init();
  void biases();
  void vocabulary();
  void regularisation();

  // ---- training (neox_map_training.cpp) -----------------------------------------------------

  void optimizer();
  void optimizer_params(const Entry& params);
  void schedule();
  void batch_and_data();
  std::optional<std::vector<double>> split_of(const Entry* e);
  void run_settings();
  void precision();
  bool enabled(const Entry* block);

  // ---- the end (neox_importer.cpp) ----------------------------------------------------------

  // Ignores or refuses every top-level key no mapping took.
  void leftovers();
  NeoxImport finish();
};

}  // namespace kiln::neox
