// kiln report: plots and numbers comparing training runs. The analysis and the figures are
// Python (tools/report/kiln_report.py, matplotlib); this command checks the run directories, finds
// the script and runs it with python3, passing its exit code on.
//
// The script: $KILN_REPORT_SCRIPT if set, else tools/report/kiln_report.py in the nearest of the
// executable's folder and its three parents that has one (build/kiln finds the source tree it sits
// in). No path of the build machine is compiled in, so a carried binary behaves the same.
// The interpreter: $KILN_PYTHON if set, else python3 from PATH.
#include <fmt/core.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "cli/common.h"

namespace kiln::cli {
namespace {

namespace fs = std::filesystem;

struct ReportArgs {
  std::vector<std::string> runs;
  std::string output;
  std::optional<double> target_loss;
  std::string format = "md";
  int smooth = 5;
};

std::optional<fs::path> find_script() {
  if (const char* env = std::getenv("KILN_REPORT_SCRIPT"); env && *env) return fs::path(env);
  const fs::path rel = fs::path("tools") / "report" / "kiln_report.py";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  fs::path dir = exe.parent_path();
  for (int up = 0; up < 4 && !dir.empty(); ++up, dir = dir.parent_path()) {
    if (const fs::path p = dir / rel; fs::is_regular_file(p, ec)) return p;
    if (dir == dir.root_path()) break;
  }
  return std::nullopt;
}

// A sweep's output directory (a folder of run directories, as `kiln sweep` leaves it) stands for
// the runs inside it, in name order; a run directory stands for itself.
std::vector<std::string> expand_runs(const std::vector<std::string>& given) {
  std::vector<std::string> runs;
  for (const auto& dir : given) {
    std::error_code ec;
    std::vector<std::string> inside;
    if (fs::is_directory(dir, ec) && !fs::is_regular_file(fs::path(dir) / "metrics.jsonl", ec))
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (fs::is_regular_file(it->path() / "metrics.jsonl", ec)) inside.push_back(it->path().string());
    std::sort(inside.begin(), inside.end());
    if (inside.empty()) runs.push_back(dir);
    else runs.insert(runs.end(), inside.begin(), inside.end());
  }
  return runs;
}

// Every directory is checked before Python starts: a typo fails fast, naming the directory.
bool check_runs(const std::vector<std::string>& runs) {
  for (const auto& dir : runs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      fmt::print(stderr, "kiln report: not a run directory: {}\n", dir);
      return false;
    }
    if (!fs::is_regular_file(fs::path(dir) / "metrics.jsonl", ec)) {
      fmt::print(stderr, "kiln report: no metrics.jsonl in {}, nor in any folder inside it\n", dir);
      return false;
    }
  }
  return true;
}

int run_report(ReportArgs args) {
  args.runs = expand_runs(args.runs);
  if (!check_runs(args.runs)) return kExitBadInput;
  const auto script = find_script();
  if (!script) {
    fmt::print(stderr,
               "kiln report: cannot find tools/report/kiln_report.py; set KILN_REPORT_SCRIPT to its path\n");
    return kExitFailure;
  }
  std::error_code ec;
  if (!fs::is_regular_file(*script, ec)) {
    fmt::print(stderr, "kiln report: report script {} does not exist (KILN_REPORT_SCRIPT)\n", script->string());
    return kExitFailure;
  }
  const char* py_env = std::getenv("KILN_PYTHON");
  const std::string python = py_env && *py_env ? py_env : "python3";

  std::vector<std::string> argv_s{python, script->string()};
  argv_s.insert(argv_s.end(), args.runs.begin(), args.runs.end());
  argv_s.insert(argv_s.end(), {"-o", args.output, "--format", args.format, "--smooth", std::to_string(args.smooth)});
  if (args.target_loss) argv_s.insert(argv_s.end(), {"--target-loss", fmt::format("{}", *args.target_loss)});
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    fmt::print(stderr, "kiln report: fork failed: {}\n", std::strerror(errno));
    return kExitFailure;
  }
  if (pid == 0) {
    execvp(argv[0], argv.data());
    fmt::print(stderr, "kiln report: cannot run {}: {}\n", python, std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      fmt::print(stderr, "kiln report: waitpid failed: {}\n", std::strerror(errno));
      return kExitFailure;
    }
  }
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    return code == 0 || code == kExitBadInput ? code : kExitFailure;
  }
  fmt::print(stderr, "kiln report: {} was killed by signal {}\n", python, WTERMSIG(status));
  return kExitFailure;
}

}  // namespace

void add_report_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand("report", "Plots and numbers comparing training runs (python3 + matplotlib)");
  cmd->add_option("runs", args->runs,
                  "Run directories (config.yml + metrics.jsonl), or a sweep's folder of them")
      ->required();
  cmd->add_option("-o,--output", args->output, "Folder for report.md/.html, report.json and the PNGs")
      ->required();
  cmd->add_option("--target-loss", args->target_loss,
                  "Loss for the batch-size analysis (default: the highest final loss among the runs)");
  cmd->add_option("--format", args->format, "Report format")
      ->check(CLI::IsMember({"md", "html"}))
      ->capture_default_str();
  cmd->add_option("--smooth", args->smooth, "Trailing-mean window (logged values) before the target crossing")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([&action, args] {
    action = [args] { return run_report(*args); };
  });
}

}  // namespace kiln::cli
