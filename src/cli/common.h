// Pieces shared by the kiln subcommands: the CONFIG + --set arguments, and how failures become
// messages and exit codes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "config/loader.h"

namespace kiln::cli {

// Exit codes: 0 success, 1 runtime failure, 2 bad command line or bad config.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

struct ConfigArgs {
  std::string file;
  std::vector<std::string> sets;
};

// Adds the positional CONFIG and the repeatable --set KEY=VALUE to a subcommand.
void add_config_args(CLI::App* app, ConfigArgs& args);
std::vector<Override> parse_overrides(const std::vector<std::string>& sets);
LoadedConfig load(const ConfigArgs& args);

// Runs a subcommand body, turning ConfigError and other exceptions into a message on stderr and
// the matching exit code. `exit_code` receives the result.
void run_guarded(int& exit_code, const std::function<int()>& body);

// Subcommand registration, one per file. Parsing a subcommand stores its body in `action`;
// main runs it once logging is set up, so a bad global option stops the command before it starts.
using Action = std::function<int()>;
void add_version_command(CLI::App& app, Action& action);
void add_config_command(CLI::App& app, Action& action);
void add_plan_command(CLI::App& app, Action& action);
void add_schedule_command(CLI::App& app, Action& action);
void add_train_command(CLI::App& app, Action& action);
void add_export_hf_command(CLI::App& app, Action& action);
void add_import_hf_command(CLI::App& app, Action& action);
void add_report_command(CLI::App& app, Action& action);
void add_sweep_command(CLI::App& app, Action& action);

}  // namespace kiln::cli
