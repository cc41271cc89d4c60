// kiln version: build, libraries and visible GPUs.
#include <fmt/core.h>

#include "cli/common.h"
#include "sysinfo/build_info.h"

namespace kiln::cli {

void add_version_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("version", "Print the kiln version, linked libraries and visible GPUs");
  cmd->callback([&action] {
    action = [] {
      fmt::print("{}", format_build_info(build_info(), query_cuda()));
      return 0;
    };
  });
}

}  // namespace kiln::cli
