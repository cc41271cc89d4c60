// kiln version: build, libraries and visible GPUs.
#include <fmt/core.h>

#include "cli/common.h"
#include "sysinfo/build_info.h"

namespace kiln::cli {

void add_version_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("version", "Print the kiln version, linked libraries and visible GPUs");
  cmd->callback([&exit_code] {
    run_guarded(exit_code, [] {
      fmt::print("{}", format_build_info(build_info(), query_cuda()));
      return 0;
    });
  });
}

}  // namespace kiln::cli
