// ProcessGrid::single and make_process_grid: the tp × dp split of MPI_COMM_WORLD.
#include "dist/process_grid.h"

#include <mpi.h>

#include <string>

#include "dist/mpi_communicator.h"
#include "dist/mpi_session.h"

namespace kiln {
namespace {

std::string launch_hint(long long needed) {
  const std::string n = std::to_string(needed);
  return "launch " + n + " ranks (mpirun -n " + n + " kiln …, or srun --ntasks=" + n +
         " kiln …), or change parallel.tensor and parallel.data so that their product is the number of ranks";
}

// Splits WORLD by `color` (ranks with the same color form a group, ordered by world rank since
// key = world rank) and wraps the result; the split communicator itself is freed once duplicated.
std::unique_ptr<Communicator> split(int color, int world_rank, const std::string& name) {
  MPI_Comm part = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(MPI_COMM_WORLD, color, world_rank, &part), "MPI_Comm_split for the '" + name + "' groups");
  try {
    auto comm = std::make_unique<MpiCommunicator>(part, name);
    MPI_Comm_free(&part);
    return comm;
  } catch (...) {
    MPI_Comm_free(&part);
    throw;
  }
}

}  // namespace

ProcessGrid ProcessGrid::single() {
  ProcessGrid g;
  g.world = std::make_unique<SelfCommunicator>("world");
  g.tp = std::make_unique<SelfCommunicator>("tp");
  g.dp = std::make_unique<SelfCommunicator>("dp");
  return g;
}

ProcessGrid make_process_grid(int tp, int dp) {
  if (tp < 1 || dp < 1) {
    throw DistError("parallel.tensor (" + std::to_string(tp) + ") and parallel.data (" + std::to_string(dp) +
                    ") must both be at least 1");
  }
  const long long needed = static_cast<long long>(tp) * dp;
  if (!MpiSession::active()) {
    if (needed == 1) return ProcessGrid::single();
    if (launched_under_mpi()) {
      throw DistError("make_process_grid(parallel.tensor = " + std::to_string(tp) + ", parallel.data = " +
                      std::to_string(dp) + "): this process was started by an MPI launcher but MPI is not " +
                      "initialised; create the MpiSession (mpi_session.h) before the process grid");
    }
    throw DistError("parallel.tensor = " + std::to_string(tp) + " × parallel.data = " + std::to_string(dp) +
                    " needs " + std::to_string(needed) + " ranks, but this process was not started by an MPI " +
                    "launcher (world size 1); " + launch_hint(needed));
  }
  int world_rank = 0, world_size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  if (needed != world_size) {
    // Every rank sees the same sizes, so every rank throws here and none waits in a split below.
    throw DistError("parallel.tensor = " + std::to_string(tp) + " × parallel.data = " + std::to_string(dp) +
                    " needs " + std::to_string(needed) + " ranks, but the world size is " + std::to_string(world_size) +
                    "; " + launch_hint(needed));
  }

  ProcessGrid g;
  g.world_rank = world_rank;
  g.world_size = world_size;
  g.tp_size = tp;
  g.dp_size = dp;
  g.tp_rank = world_rank % tp;
  g.dp_rank = world_rank / tp;
  g.world = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, "world");
  g.tp = split(/*color=*/g.dp_rank, world_rank, "tp");  // consecutive ranks: same dp_rank
  g.dp = split(/*color=*/g.tp_rank, world_rank, "dp");  // stride tp: same tp_rank
  return g;
}

}  // namespace kiln
