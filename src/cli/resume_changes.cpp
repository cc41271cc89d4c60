#include "cli/resume_changes.h"

#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <exception>
#include <map>
#include <set>

#include "ckpt/checkpoint.h"
#include "config/emit.h"
#include "config/loader.h"
#include "optim/lr_schedule.h"

namespace kiln::cli {
namespace {

// key path → value text of every leaf of a resolved config; sequences in flow style.
void flatten(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      flatten(kv.second, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  if (node.IsScalar()) {
    out[prefix] = node.Scalar();
    return;
  }
  YAML::Emitter e;
  e << YAML::Flow << node;
  out[prefix] = node.IsNull() ? "null" : e.c_str();
}

std::map<std::string, std::string> leaves(const std::string& yaml_text) {
  std::map<std::string, std::string> out;
  flatten(YAML::Load(yaml_text), "", out);
  return out;
}

double lr_at(const Config& c, int64_t step) {
  return LrSchedule(c.schedule, c.optimizer.lr, c.train.steps).at(step);
}

}  // namespace

ResumeChanges resume_changes(const std::filesystem::path& checkpoint, const Config& now) {
  ResumeChanges r;
  const TrainerState state = read_trainer_state(checkpoint);
  r.step = state.step;
  if (state.config_yaml.empty()) {
    r.lr = "the checkpoint records no config, so what this resume changes cannot be listed";
    return r;
  }
  try {
    const auto before = leaves(state.config_yaml);
    const auto after = leaves(resolved_config_text(now, ""));
    std::set<std::string> keys;
    for (const auto& [k, v] : before) keys.insert(k);
    for (const auto& [k, v] : after) keys.insert(k);
    for (const std::string& k : keys) {
      const auto b = before.find(k), a = after.find(k);
      const std::string vb = b == before.end() ? "(not set)" : b->second;
      const std::string va = a == after.end() ? "(not set)" : a->second;
      if (vb != va) r.keys.push_back(fmt::format("{}: {} → {}", k, vb, va));
    }
    const Config then = load_config_tree(YAML::Load(state.config_yaml), checkpoint.string() + " (its config)").config;
    const double lr_then = lr_at(then, r.step), lr_now = lr_at(now, r.step);
    if (std::abs(lr_now - lr_then) > 1e-9 * std::max(std::abs(lr_then), 1e-30))
      r.lr = fmt::format("the learning rate of update {} is {:.3e} under this config, {:.3e} under the checkpoint's: "
                         "the schedule now follows this config's curve from here on",
                         r.step + 1, lr_now, lr_then);
  } catch (const std::exception& e) {
    r.lr = fmt::format("the checkpoint's recorded config could not be compared ({})", e.what());
  }
  return r;
}

}  // namespace kiln::cli
