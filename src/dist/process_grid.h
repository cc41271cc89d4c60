// The 2D process grid: world = tensor-parallel × data-parallel.
//
// Layout (Megatron-LM's): TP groups are blocks of consecutive world ranks, so with one rank per
// GPU and tp ≤ GPUs per node a TP group stays inside a node, where its per-layer all-reduces run
// over NVLink; DP groups take every tp-th rank, across nodes.
//   world rank w  →  tp_rank = w mod tp,  dp_rank = w div tp
//   TP group of w: ranks dp_rank·tp … dp_rank·tp + tp − 1
//   DP group of w: ranks tp_rank, tp_rank + tp, …, tp_rank + (dp − 1)·tp
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace kiln {

struct ProcessGrid {
  int world_rank = 0, world_size = 1;
  int tp_rank = 0, tp_size = 1;
  int dp_rank = 0, dp_size = 1;
  std::unique_ptr<Communicator> world, tp, dp;

  // One process, no MPI: every group is a SelfCommunicator.
  static ProcessGrid single();
};

// The grid of a job launched under MPI (an MpiSession is active): world = tp · dp ranks, split as
// laid out above into MpiCommunicators named "world", "tp" and "dp". Collective over
// MPI_COMM_WORLD. Without an active MpiSession it returns single() when tp = dp = 1.
// Throws DistError when tp or dp is below 1, or tp · dp differs from the number of ranks; the
// message names parallel.tensor, parallel.data and the world size and says how to launch.
ProcessGrid make_process_grid(int tp, int dp);

}  // namespace kiln
