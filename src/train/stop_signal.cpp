#include "train/stop_signal.h"

#include <csignal>
#include <stdexcept>

namespace kiln {
namespace {

volatile std::sig_atomic_t g_signal = 0;
bool g_installed = false;
struct sigaction g_old_term, g_old_usr1;

extern "C" void on_stop_signal(int sig) { g_signal = sig; }

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
  g_installed = true;
}

StopSignal::~StopSignal() {
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGUSR1, &g_old_usr1, nullptr);
  g_installed = false;
}

bool StopSignal::requested() const { return g_signal != 0; }
int StopSignal::signal_number() const { return static_cast<int>(g_signal); }

}  // namespace kiln
