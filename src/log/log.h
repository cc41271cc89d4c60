// Rank-aware logging on top of spdlog.
//
// kiln runs one process per MPI rank, so unfiltered logging prints every message N times. After
// init_logging() the spdlog default logger (spdlog::info(...), SPDLOG_INFO(...)) is configured so
// that by default only rank 0 speaks at the chosen level and the other ranks report only warnings
// and errors. Everything goes to stderr: stdout is reserved for command output (YAML, JSON) that
// other tools parse.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "config/config.h"

namespace kiln {

// The launcher's rank of this process, read from the environment so that logging can be set up
// before MPI is initialised (and so that a failing MPI_Init can itself be logged). Looks at
// OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK, SLURM_PROCID in that order and uses the first one
// set; 0 when none is (a plain, non-MPI run).
// Throws std::runtime_error naming the variable when its value is not a non-negative integer.
int detect_rank();

// "trace", "debug", "info", "warn" or "error" (exact, lower case). Throws std::invalid_argument
// listing the allowed values otherwise.
LogLevel parse_log_level(std::string_view name);

// The inverse of parse_log_level.
std::string_view log_level_name(LogLevel level);

struct LogOptions {
  LogLevel level = LogLevel::info;
  int rank = 0;
  // Only decides whether lines carry "[rank N]"; a rank above 0 implies a multi-rank world.
  int world_size = 1;
  // false: ranks other than 0 log only warnings and errors, whatever `level` says.
  bool all_ranks = false;
  // Appended to (never truncated, so a resumed run keeps its history) by every rank that logs.
  // With all_ranks each rank writes its own file, "train.log" becoming "train.rank3.log", so
  // that ranks do not interleave. Without it, rank 0 and the warnings of the other ranks share the
  // one file; appends of whole lines keep that readable. Parent directories are created.
  std::optional<std::filesystem::path> file;
};

// (Re)configures the default logger. Safe to call any number of times: a later call replaces the
// earlier configuration and closes its log file. On failure the previous configuration stays.
// Throws std::invalid_argument for a negative rank or a world_size below 1, std::runtime_error
// (naming the path) when the log file cannot be opened.
void init_logging(const LogOptions& options);

// The file name a rank writes for `options.file` (which must be set): the rank-suffixed name
// under all_ranks, the name itself otherwise.
std::filesystem::path log_file_for_rank(const LogOptions& options);

}  // namespace kiln
