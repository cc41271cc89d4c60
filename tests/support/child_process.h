// Test support for driving kiln's executables as child processes that the test signals: start one
// (its output to a file or discarded), wait for its metrics file to reach a step, and read how it
// ended.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace kiln::testing {

// Starts args[0] with `args`, `env` ("NAME=value") added to the environment and stdout and
// stderr to `output` (empty: discarded).
inline pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                   const std::filesystem::path& output = {}) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    const int fd = output.empty() ? ::open("/dev/null", O_WRONLY)
                                  : ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1), dup2(fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// How a child ended: its exit status, or the signal that killed it.
struct Ending {
  int exit_code = -1;  // -1 when killed
  int signal = 0;      // 0 when it exited
};

inline Ending wait_ending(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return {WEXITSTATUS(status), 0};
  return {-1, WTERMSIG(status)};
}

// The exit status, or 128 + the signal.
inline int wait_exit(pid_t pid) {
  const Ending e = wait_ending(pid);
  return e.signal ? 128 + e.signal : e.exit_code;
}

inline std::string last_line(const std::filesystem::path& f) {
  std::ifstream in(f);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

// Waits until the metrics file's last record is step `step` or later (a JSON line starting
// {"step":N,); false after 60 s.
inline bool wait_for_step(const std::filesystem::path& metrics, int step) {
  for (int i = 0; i < 1200; ++i) {
    const std::string line = last_line(metrics);
    const std::string head = "{\"step\":";
    if (line.rfind(head, 0) == 0 && std::atoi(line.c_str() + head.size()) >= step) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace kiln::testing
