#include "sweep/sweep.h"

#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "util/suggest.h"

namespace kiln::sweep {
namespace {

namespace fs = std::filesystem;

// A YAML value as `--set` text: scalars as written, sequences and maps in flow style.
std::string value_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsNull()) return "null";
  YAML::Emitter out;
  out.SetSeqFormat(YAML::Flow);
  out.SetMapFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

struct Parser {
  std::string file;
  std::vector<Diagnostic> problems;

  void problem(const YAML::Node& node, const std::string& message) {
    problems.push_back({yaml_location(file, node.Mark()), message});
  }

  // A map of key → value into overrides; `skip` is a key that is not an override (a list entry's name).
  std::vector<Override> overrides_of(const YAML::Node& map, const std::string& what, const std::string& skip = "") {
    std::vector<Override> out;
    if (!map || map.IsNull()) return out;
    if (!map.IsMap()) {
      problem(map, what + " must be a map of config keys to values");
      return out;
    }
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      if (key == skip) continue;
      out.push_back({key, value_text(kv.second)});
    }
    return out;
  }
};

const std::vector<std::string> kTopKeys = {"base", "name", "output_dir", "set", "grid", "list"};

}  // namespace

std::string sanitize_run_name(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '=' || c == '+' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

Sweep load_sweep(const fs::path& file) {
  Parser p{file.string(), {}};
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw ConfigError(Diagnostic{file.string(), "cannot read the sweep file"});
  } catch (const YAML::Exception& e) {
    throw ConfigError(Diagnostic{yaml_location(file.string(), e.mark), e.msg});
  }
  if (!root.IsMap()) throw ConfigError(Diagnostic{file.string(), "a sweep file is a map (base, name, output_dir, set, grid, list)"});
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (std::find(kTopKeys.begin(), kTopKeys.end(), key) != kTopKeys.end()) continue;
    const auto near = closest_match(key, kTopKeys);
    p.problem(kv.first, "unknown sweep key '" + key + "'" + (near ? "; did you mean '" + *near + "'?" : ""));
  }

  Sweep sweep;
  sweep.file = file;
  if (!root["base"] || !root["base"].IsScalar()) {
    p.problems.push_back({file.string(), "the sweep file needs `base:`, the config every run starts from"});
  } else {
    fs::path base = root["base"].as<std::string>();
    if (base.is_relative()) base = file.parent_path() / base;
    sweep.base = fs::absolute(base).lexically_normal();
    if (!fs::exists(sweep.base)) p.problem(root["base"], "base config " + sweep.base.string() + " does not exist");
  }
  sweep.name = root["name"] && root["name"].IsScalar() ? root["name"].as<std::string>() : file.stem().string();
  std::optional<std::string> output_dir;
  if (root["output_dir"]) output_dir = root["output_dir"].as<std::string>();
  const std::vector<Override> common = p.overrides_of(root["set"], "`set`");

  // The runs, each as (name, overrides, where it was declared).
  struct Planned {
    std::string name;
    std::vector<Override> overrides;
    std::string where;
  };
  std::vector<Planned> planned;
  if (const YAML::Node grid = root["grid"]; grid && !grid.IsNull()) {
    if (!grid.IsMap()) {
      p.problem(grid, "`grid` must be a map of config keys to lists of values");
    } else {
      std::vector<std::pair<std::string, std::vector<std::string>>> axes;
      for (const auto& kv : grid) {
        const std::string key = kv.first.as<std::string>();
        if (!kv.second.IsSequence() || kv.second.size() == 0) {
          p.problem(kv.second, "grid." + key + " must be a non-empty list of values");
          continue;
        }
        std::vector<std::string> values;
        for (const auto& v : kv.second) values.push_back(value_text(v));
        axes.emplace_back(key, std::move(values));
      }
      if (!axes.empty()) {
        // Odometer order: the last key changes fastest.
        std::vector<size_t> index(axes.size(), 0);
        for (;;) {
          Planned run{sweep.name, {}, yaml_location(file.string(), grid.Mark())};
          for (size_t a = 0; a < axes.size(); ++a) {
            const auto& [key, values] = axes[a];
            run.name += "-" + key + "=" + values[index[a]];
            run.overrides.push_back({key, values[index[a]]});
          }
          run.name = sanitize_run_name(run.name);
          planned.push_back(std::move(run));
          size_t a = axes.size();
          while (a > 0 && ++index[a - 1] == axes[a - 1].second.size()) index[--a] = 0;
          if (a == 0) break;
        }
      }
    }
  }
  if (const YAML::Node list = root["list"]; list && !list.IsNull()) {
    if (!list.IsSequence()) {
      p.problem(list, "`list` must be a list of maps of overrides (each with an optional `name`)");
    } else {
      size_t i = 0;
      for (const auto& entry : list) {
        ++i;
        if (!entry.IsMap()) {
          p.problem(entry, "list entry " + std::to_string(i) + " must be a map of overrides");
          continue;
        }
        Planned run{"", p.overrides_of(entry, "list entry", "name"), yaml_location(file.string(), entry.Mark())};
        if (entry["name"]) {
          run.name = sanitize_run_name(entry["name"].as<std::string>());
        } else {
          run.name = sweep.name;
          for (const auto& o : run.overrides) run.name += "-" + o.key + "=" + o.value;
          run.name = sanitize_run_name(run.name);
        }
        planned.push_back(std::move(run));
      }
    }
  }
  if (planned.empty() && p.problems.empty()) {
    // Neither grid nor list: the base config alone, with `set`.
    planned.push_back({sanitize_run_name(sweep.name), {}, file.string()});
  }

  std::map<std::string, std::string> first_seen;
  for (const auto& run : planned) {
    auto [it, inserted] = first_seen.emplace(run.name, run.where);
    if (!inserted)
      p.problems.push_back({run.where, "duplicate run name '" + run.name + "' (also at " + it->second +
                                           "); give list entries distinct `name`s"});
  }
  if (!p.problems.empty() || sweep.base.empty()) throw ConfigError(std::move(p.problems));

  std::vector<Diagnostic> problems;
  for (auto& run : planned) {
    std::vector<Override> overrides = common;
    overrides.insert(overrides.end(), run.overrides.begin(), run.overrides.end());
    overrides.push_back({"train.name", run.name});
    if (output_dir) overrides.push_back({"train.output_dir", *output_dir});
    try {
      LoadedConfig loaded = load_config(sweep.base, overrides);
      sweep.runs.push_back({run.name, std::move(overrides), std::move(loaded.config)});
    } catch (const ConfigError& e) {
      for (const auto& d : e.diagnostics()) problems.push_back({d.where, "run '" + run.name + "': " + d.message});
    }
  }
  if (!problems.empty()) throw ConfigError(std::move(problems));
  return sweep;
}

RunProgress read_progress(const Config& config) {
  RunProgress progress;
  const fs::path metrics = fs::path(config.train.output_dir) / config.train.name.value() / config.logging.metrics_file;
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || !record.contains("step") || !record["step"].is_number_integer()) continue;  // a torn line
    const int64_t step = record["step"].get<int64_t>();
    progress.last_step = std::max(progress.last_step, step);
    if (step == config.train.steps) progress.complete = true;
    if (record.contains("loss") && record["loss"].is_number()) progress.final_loss = record["loss"].get<double>();
  }
  return progress;
}

namespace {
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
}  // namespace

std::string slurm_script(const Sweep& sweep, const std::string& kiln, const fs::path& workdir) {
  const size_t n = sweep.runs.size();
  std::string out = "#!/bin/bash\n";
  out += fmt::format("# Slurm job array for the kiln sweep {} ({} run{}); submit with: sbatch <this file>\n",
                     sweep.file.string(), n, n == 1 ? "" : "s");
  out += "# Each array index trains one run; re-submitting resumes unfinished runs from their checkpoints.\n";
  out += "#SBATCH --job-name=" + sanitize_run_name(sweep.name) + "\n";
  out += fmt::format("#SBATCH --array=0-{}\n", n - 1);
  out += "#SBATCH --output=slurm-%A_%a.out\n";
  out += "set -euo pipefail\n";
  out += "KILN=${KILN:-" + shell_quote(kiln) + "}\n";
  out += "cd " + shell_quote(workdir.string()) + "\n";
  out += "case \"$SLURM_ARRAY_TASK_ID\" in\n";
  for (size_t i = 0; i < n; ++i) {
    std::string line = fmt::format("  {}) # {}\n    exec \"$KILN\" train {}", i, sweep.runs[i].name,
                                   shell_quote(sweep.base.string()));
    for (const auto& o : sweep.runs[i].overrides) line += " --set " + shell_quote(o.key + "=" + o.value);
    out += line + " ;;\n";
  }
  out += "  *) echo \"no run for array index $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\n";
  out += "esac\n";
  return out;
}

}  // namespace kiln::sweep
