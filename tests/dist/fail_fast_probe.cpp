// fail_fast_probe: an MPI program for the fail-fast CTest entries (tests/CMakeLists.txt).
//
//   mpirun -n 3 fail_fast_probe [--throw-on-rank R]
//
// Every rank enters a barrier, except rank R, which throws first. Without run_fail_fast the
// others would wait in the barrier forever; with it, rank R logs "rank R: probe failure on
// purpose" and MPI_Abort ends the job with a non-zero status.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "dist/fail_fast.h"
#include "dist/mpi_communicator.h"
#include "dist/mpi_session.h"
#include "log/log.h"

int main(int argc, char** argv) {
  int throw_on = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--throw-on-rank" && i + 1 < argc) {
      throw_on = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: fail_fast_probe [--throw-on-rank R]\n");
      return 2;
    }
  }
  kiln::MpiSession session;
  kiln::init_logging({.level = kiln::LogLevel::info, .rank = session.world_rank(), .world_size = session.world_size()});
  kiln::MpiCommunicator world(MPI_COMM_WORLD, "world");
  return kiln::run_fail_fast([&] {
    if (world.rank() == throw_on) throw std::runtime_error("probe failure on purpose");
    world.barrier();
    return 0;
  });
}
