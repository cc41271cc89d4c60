#include "log/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln {
namespace {

// The order is the precedence: when a SLURM job step runs Open MPI's mpirun, both
// OMPI_COMM_WORLD_RANK and SLURM_PROCID are set and only the former is this process's MPI rank.
constexpr const char* kRankVariables[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK",
                                          "SLURM_PROCID"};

constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error"};

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  throw std::invalid_argument("unknown LogLevel");
}

std::string make_pattern(const LogOptions& options) {
  std::string pattern = "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] ";
  if (options.world_size > 1 || options.rank > 0 || options.all_ranks) {
    pattern += "[rank " + std::to_string(options.rank) + "] ";
  }
  return pattern + "%v";
}

}  // namespace

int detect_rank() {
  for (const char* name : kRankVariables) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    std::string_view text(value);
    int rank = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), rank);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || rank < 0) {
      throw std::runtime_error("environment variable " + std::string(name) + "='" +
                               std::string(text) + "' is not a valid rank (expected a " +
                               "non-negative integer)");
    }
    return rank;
  }
  return 0;
}

LogLevel parse_log_level(std::string_view name) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (name == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  throw std::invalid_argument("invalid log level '" + std::string(name) +
                              "' (allowed: trace, debug, info, warn, error)");
}

std::string_view log_level_name(LogLevel level) {
  auto i = static_cast<size_t>(level);
  if (i >= std::size(kLevelNames)) throw std::invalid_argument("unknown LogLevel");
  return kLevelNames[i];
}

std::filesystem::path log_file_for_rank(const LogOptions& options) {
  const std::filesystem::path& file = options.file.value();
  if (!options.all_ranks) return file;
  std::filesystem::path suffixed = file;
  suffixed.replace_filename(file.stem().string() + ".rank" + std::to_string(options.rank) +
                            file.extension().string());
  return suffixed;
}

void init_logging(const LogOptions& options) {
  if (options.rank < 0) {
    throw std::invalid_argument("init_logging: rank must be >= 0, got " +
                                std::to_string(options.rank));
  }
  if (options.world_size < 1) {
    throw std::invalid_argument("init_logging: world_size must be >= 1, got " +
                                std::to_string(options.world_size));
  }

  spdlog::level::level_enum level = to_spdlog(options.level);
  if (!options.all_ranks && options.rank != 0) level = std::max(level, spdlog::level::warn);

  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (options.file) {
    std::filesystem::path path = log_file_for_rank(options);
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.string(),
                                                                          /*truncate=*/false));
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error("cannot open log file " + path.string() + ": " + e.what());
    }
  }

  // Everything is built before the swap so that a failure above leaves the old logger working.
  auto logger = std::make_shared<spdlog::logger>("kiln", sinks.begin(), sinks.end());
  logger->set_pattern(make_pattern(options));
  logger->set_level(level);
  // Training logs a handful of lines per logging interval, so flushing each one costs nothing
  // measurable, and it means the last lines before a crash or a SIGKILL are not lost.
  logger->flush_on(spdlog::level::trace);
  // Replaces (and unregisters) the previous default, whose sinks close when it is released.
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace kiln
