// kiln-data: corpus and shard tools. Subcommands live in cmd_*.cpp; this file parses the command
// line, sets up logging, then runs the chosen subcommand.
#include <CLI/CLI.hpp>

#include "common.h"
#include "log/log.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln-data: tokenize corpora into shards, train tokenizers, inspect, convert and verify shards",
               "kiln-data"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  std::string level = "info";
  app.add_option("--log-level", level, "Log level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();

  kiln::data_tools::Action action;
  kiln::data_tools::add_tokenize_command(app, action);
  kiln::data_tools::add_train_tokenizer_command(app, action);
  kiln::data_tools::add_inspect_command(app, action);
  kiln::data_tools::add_convert_command(app, action);
  kiln::data_tools::add_verify_command(app, action);
  kiln::data_tools::add_sample_corpus_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kiln::data_tools::kExitBadInput;
  }

  int exit_code = 0;
  kiln::data_tools::run_guarded(exit_code, [&] {
    kiln::init_logging({.level = kiln::parse_log_level(level), .rank = 0});
    return 0;
  });
  if (exit_code != 0) return exit_code;
  if (action) kiln::data_tools::run_guarded(exit_code, action);
  return exit_code;
}
