#include "cli/openmp_defaults.h"

#include <unistd.h>

#include <cstdlib>

namespace kiln::cli {

void ensure_openmp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  // The variable itself guards against a loop: the re-executed kiln finds it set.
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 0) != 0) return;
  execv("/proc/self/exe", argv);
  // execv only returns on failure: carry on in this process, whose runtime spins.
}

}  // namespace kiln::cli
