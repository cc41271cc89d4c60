#include "train/stop_signal.h"

#include <unistd.h>

#include <csignal>
#include <stdexcept>
#include <string>

namespace kiln {
namespace {

volatile std::sig_atomic_t g_signal = 0;
bool g_installed = false;
struct sigaction g_old_term, g_old_usr1, g_old_int;

extern "C" void on_stop_signal(int sig) {
  g_signal = sig;
  if (sig == SIGINT) {  // write(2) is async-signal-safe; the log is not
    static const char msg[] =
        "\nkiln: interrupted: stopping after this step (saving a checkpoint unless checkpoint.save_on_signal "
        "is false); press Ctrl-C again to abort without saving\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  }
}

}  // namespace

StopSignal::StopSignal() {
  if (g_installed) throw std::logic_error("StopSignal: one at a time per process");
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // a system call interrupted by the signal resumes (file writes, MPI)
  sigaction(SIGTERM, &sa, &g_old_term);
  sigaction(SIGUSR1, &sa, &g_old_usr1);
  // The first Ctrl-C asks for a stop; SA_RESETHAND puts the default action back, so a second one
  // ends the process at once.
  sa.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGINT, &sa, &g_old_int);
  g_installed = true;
}

StopSignal::~StopSignal() {
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGUSR1, &g_old_usr1, nullptr);
  sigaction(SIGINT, &g_old_int, nullptr);
  g_installed = false;
}

std::string StopSignal::name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT (Ctrl-C)";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case 0: return "a signal to another rank";
    default: return "signal " + std::to_string(sig);
  }
}

bool StopSignal::requested() const { return g_signal != 0; }
int StopSignal::signal_number() const { return static_cast<int>(g_signal); }

}  // namespace kiln
