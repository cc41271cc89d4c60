// run_sweep: the runs one after another, each a child `kiln train` with its output in sweep.log.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fmt/core.h>
#include <fstream>
#include <sstream>

#include "sweep/sweep.h"

extern char** environ;

namespace kiln::sweep {
namespace {

namespace fs = std::filesystem;

// Runs `args` with stdout and stderr appended to `log`; returns the exit status (128 + signal when killed).
int run_child(const std::vector<std::string>& args, const fs::path& log) {
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log.string() + ": " + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fd, STDERR_FILENO);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fd);
  if (err != 0) throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(err));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The text of `file` from `offset` on: this attempt's output only.
std::string read_from(const fs::path& file, std::uintmax_t offset) {
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string loss_text(const std::optional<double>& loss) {
  return loss ? fmt::format(", final loss {:.4g}", *loss) : "";
}

}  // namespace

int run_sweep(const Sweep& sweep, const std::string& kiln, const std::string& only) {
  std::vector<const SweepRun*> selected;
  for (const auto& run : sweep.runs)
    if (only.empty() || run.name == only) selected.push_back(&run);
  if (selected.empty()) throw ConfigError(Diagnostic{sweep.file.string(), "no run named '" + only + "' in the sweep"});

  int done = 0, skipped = 0, failed = 0;
  const size_t n = selected.size();
  for (size_t i = 0; i < n; ++i) {
    const SweepRun& run = *selected[i];
    const std::string prefix = fmt::format("[{}/{}] {}", i + 1, n, run.name);
    const RunProgress before = read_progress(run.config);
    if (before.complete) {
      fmt::print("{} … skipped: complete{}\n", prefix, loss_text(before.final_loss));
      std::fflush(stdout);
      ++skipped;
      continue;
    }
    const fs::path dir = fs::path(run.config.train.output_dir) / run.config.train.name.value();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create run directory " + dir.string() + ": " + ec.message());
    const fs::path log = dir / "sweep.log";
    const std::uintmax_t offset = fs::exists(log) ? fs::file_size(log) : 0;
    fmt::print("{} … {}", prefix, before.last_step > 0 ? fmt::format("resuming after step {} … ", before.last_step) : "");
    std::fflush(stdout);

    std::vector<std::string> args = {kiln, "train", sweep.base.string()};
    for (const auto& o : run.overrides) {
      args.push_back("--set");
      args.push_back(o.key + "=" + o.value);
    }
    const auto start = std::chrono::steady_clock::now();
    const int code = run_child(args, log);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const RunProgress after = read_progress(run.config);
    if (code != 0) {
      fmt::print("FAILED (exit {}) after {:.1f} s; see {}\n", code, seconds, log.string());
      ++failed;
    } else if (read_from(log, offset).find("the run is complete") != std::string::npos) {
      fmt::print("skipped: complete (its last checkpoint is at train.steps){}\n", loss_text(after.final_loss));
      ++skipped;
    } else {
      fmt::print("done in {:.1f} s{}\n", seconds, loss_text(after.final_loss));
      ++done;
    }
    std::fflush(stdout);
  }
  fmt::print("sweep: {} trained, {} skipped, {} failed\n", done, skipped, failed);
  return failed > 0 ? 1 : 0;
}

}  // namespace kiln::sweep
