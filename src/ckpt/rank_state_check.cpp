#include "ckpt/rank_state_check.h"

namespace kiln::ckpt {

std::string rank_state_problem(const RankState& rank, const char* who, bool weights_only) {
  const std::string w = std::string(who) + ": ";
  if (!rank.layout) return w + "RankState.layout is not set";
  if (rank.layout->tp_rank() != rank.tp_rank || rank.layout->tp_size() != rank.tp_size)
    return w + "RankState is tp rank " + std::to_string(rank.tp_rank) + " of " + std::to_string(rank.tp_size) +
           " but its layout is tp rank " + std::to_string(rank.layout->tp_rank()) + " of " +
           std::to_string(rank.layout->tp_size());
  if (rank.dp_rank < 0 || rank.dp_rank >= rank.dp_size)
    return w + "dp rank " + std::to_string(rank.dp_rank) + " of " + std::to_string(rank.dp_size);
  if (rank.shard_begin < 0 || rank.shard_end < rank.shard_begin)
    return w + "bad shard [" + std::to_string(rank.shard_begin) + ", " + std::to_string(rank.shard_end) + ")";
  const size_t n = static_cast<size_t>(rank.shard_end - rank.shard_begin);
  auto wrong = [&](const char* span, size_t have, size_t want) {
    return w + "RankState." + span + " holds " + std::to_string(have) + " elements, the shard [" +
           std::to_string(rank.shard_begin) + ", " + std::to_string(rank.shard_end) + ") has " + std::to_string(want);
  };
  if (rank.params.size() != n * size_of(rank.param_dtype))
    return wrong("params (bytes)", rank.params.size(), n * size_of(rank.param_dtype));
  if (rank.masters.size() != n) return wrong("masters", rank.masters.size(), n);
  if (!weights_only || !rank.m.empty() || !rank.v.empty()) {
    if (rank.m.size() != n) return wrong("m", rank.m.size(), n);
    if (rank.v.size() != n) return wrong("v", rank.v.size(), n);
  }
  return {};
}

}  // namespace kiln::ckpt
