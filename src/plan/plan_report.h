// Presentation of a Plan: a human-readable report for `kiln plan` and a JSON form for tools.
// Both print the numbers make_plan computed and compute nothing new beyond shares and units.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "plan/planner.h"

namespace kiln {

// Multi-line text, ending in a newline: a model summary line; a parameter table (component, count
// with thousands separators, share of the total), omitting components that are absent; FLOPs per
// token both ways; the per-rank memory table in GiB (2^30 bytes, 2 decimals) with the activation
// parts; the layout (tp × dp = world, ZeRO stage, micro × accum × dp = global batch, tokens); and
// the communication each rank sends per step, in bytes and decimal GB: the data-parallel
// reduce-scatter and all-gather (all-reduce under ZeRO stage 0) and the tensor-parallel
// all-reduces by source. `config` supplies only descriptive fields (model shape, dtype names);
// every number comes from `plan`.
std::string format_plan(const Plan& plan, const Config& config);

// Every number of the plan as a JSON integer (bytes for memory), grouped as
// { params, flops_per_token, layout, per_rank: { params, optimizer_shard_params, memory_bytes,
//   activation_bytes }, comm_bytes_per_rank: { data_parallel, tensor_parallel, total_per_step } }.
nlohmann::json plan_to_json(const Plan& plan);

}  // namespace kiln
