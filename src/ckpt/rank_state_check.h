// The checks every entry point makes on a caller's RankState before touching a file, so that a
// wiring mistake (spans of the wrong length, a layout of another TP rank) is reported as such and
// not as a corrupt checkpoint.
#pragma once

#include <string>

#include "ckpt/checkpoint.h"

namespace kiln::ckpt {

// "" when `rank` is consistent; else what is wrong, starting with `who`. With weights_only the
// Adam moments may be empty (they are not touched).
std::string rank_state_problem(const RankState& rank, const char* who, bool weights_only = false);

}  // namespace kiln::ckpt
