// kiln plan: parameter counts, FLOPs per token and per-rank memory for a config's layout.
#include <fmt/core.h>

#include "cli/common.h"
#include "plan/plan_report.h"
#include "plan/planner.h"

namespace kiln::cli {

void add_plan_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("plan", "Parameter counts, FLOPs per token and per-rank memory of a config");
  struct Args {
    ConfigArgs config;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  add_config_args(cmd, args->config);
  cmd->add_flag("--json", args->json, "Print the plan as JSON");
  cmd->callback([&action, args] {
    action = [args] {
      const LoadedConfig loaded = load(args->config);
      const Plan plan = make_plan(loaded.config);
      if (args->json)
        fmt::print("{}\n", plan_to_json(plan).dump(2));
      else
        fmt::print("{}", format_plan(plan, loaded.config));
      return 0;
    };
  });
}

}  // namespace kiln::cli
