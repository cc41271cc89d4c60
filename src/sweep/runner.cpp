// run_sweep: the runs one after another, each a child `kiln train` with its output in sweep.log.
//
// Signals: each child runs in its own process group, so a Ctrl-C at the terminal reaches only the
// sweep, which passes each SIGINT or SIGTERM it gets on to the running child exactly once (the
// child's first SIGINT stops it after its step with a checkpoint, a second aborts it) and starts
// no further run.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <fmt/core.h>
#include <fstream>
#include <functional>
#include <sstream>

#include "sweep/sweep.h"

extern char** environ;

namespace kiln::sweep {
namespace {

namespace fs = std::filesystem;

volatile std::sig_atomic_t g_signals = 0;      // SIGINT/SIGTERM received while the sweep runs
volatile std::sig_atomic_t g_last_signal = 0;

extern "C" void on_sweep_signal(int sig) {
  g_signals = g_signals + 1;
  g_last_signal = sig;
}

// SIGINT and SIGTERM counted (not fatal) while alive; the previous handlers come back after.
class SweepSignals {
 public:
  SweepSignals() {
    g_signals = 0;
    g_last_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_sweep_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SweepSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  SweepSignals(const SweepSignals&) = delete;
  SweepSignals& operator=(const SweepSignals&) = delete;
  int count() const { return static_cast<int>(g_signals); }
  int last() const { return static_cast<int>(g_last_signal); }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// Runs `args` in a process group of its own with stdout and stderr appended to `log`, passing on
// each signal `signals` counts; returns the exit status (128 + signal when killed).
int run_child(const std::vector<std::string>& args, const fs::path& log, const SweepSignals& signals,
              const std::function<void()>& tick) {
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log.string() + ": " + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fd, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: the terminal's Ctrl-C is the sweep's to pass on
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int forwarded_before = signals.count();
  const int err = posix_spawn(&pid, args[0].c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fd);
  if (err != 0) throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(err));
  int status = 0, forwarded = forwarded_before;
  // Polled, so that a signal arriving just before a blocking wait is still passed on; `tick` about
  // once a second.
  for (int polls = 1;; ++polls) {
    if (polls % 50 == 0) tick();
    while (forwarded < signals.count()) {
      ::kill(pid, signals.last());
      ++forwarded;
    }
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    const timespec pause{0, 20'000'000};
    ::nanosleep(&pause, nullptr);
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
  const SweepSignals signals;
  for (size_t i = 0; i < n; ++i) {
    if (signals.count() > 0) break;  // arrived between two runs
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
    const std::string lead =
        prefix + " … " + (before.last_step > 0 ? fmt::format("resuming after step {} … ", before.last_step) : "");
    fmt::print("{}", lead);
    std::fflush(stdout);

    std::vector<std::string> args = {kiln, "train", sweep.base.string()};
    for (const auto& o : run.overrides) {
      args.push_back("--set");
      args.push_back(o.key + "=" + o.value);
    }
    const auto start = std::chrono::steady_clock::now();
    // On a terminal, a live line: the run's last logged step and loss, rewritten in place.
    const bool live = ::isatty(STDOUT_FILENO) != 0;
    auto tick = [&, last = int64_t{-1}]() mutable {
      if (!live) return;
      const RunProgress now = read_progress(run.config);
      if (now.last_step == last) return;
      last = now.last_step;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print("\r\033[K{} … step {}/{}{}, {:.0f} s", prefix, now.last_step, run.config.train.steps,
                 now.final_loss ? fmt::format(", loss {:.4g}", *now.final_loss) : "", secs);
      std::fflush(stdout);
    };
    const int code = run_child(args, log, signals, tick);
    if (live) fmt::print("\r\033[K{}", lead);  // the result replaces the live line
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const RunProgress after = read_progress(run.config);
    if (signals.count() > 0) {
      fmt::print("interrupted after {:.1f} s{} (exit {}); see {}\n", seconds,
                 after.last_step > 0 ? fmt::format(", at step {}", after.last_step) : "", code, log.string());
      std::fflush(stdout);
      break;
    }
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
  if (signals.count() > 0) {
    const int left = static_cast<int>(n) - done - skipped - failed;
    fmt::print("sweep: interrupted ({}): {} trained, {} skipped, {} failed, {} not finished; run the same "
               "command to resume\n",
               signals.last() == SIGINT ? "SIGINT" : "SIGTERM", done, skipped, failed, left);
    // Ctrl-C: the shell's convention (128 + SIGINT); a SIGTERM stop (preemption) is not a failure.
    return signals.last() == SIGINT ? 128 + SIGINT : (failed > 0 ? 1 : 0);
  }
  fmt::print("sweep: {} trained, {} skipped, {} failed\n", done, skipped, failed);
  return failed > 0 ? 1 : 0;
}

}  // namespace kiln::sweep
