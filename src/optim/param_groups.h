// Parameter groups: the registry's per-tensor ParamInfo turned into what the AdamW kernel takes.
//
// Each tensor carries (lr_scale, decay) in the registry (param_registry.h): µP gives hidden
// matrices lr_scale = width_scale, and biases and norm parameters decay = false (SPEC.md §3). The
// kernel wants element ranges of the flat layout with a learning-rate multiplier and a weight
// decay, so build_group_ranges emits one AdamWGroupRange per run of tensors that
//   - share (lr_scale, weight_decay), where weight_decay = optimizer.weight_decay for a decayed
//     tensor and 0 otherwise, and
//   - touch each other in the flat buffer (one ends exactly where the next starts).
// Alignment padding between two tensors belongs to no range, so the ranges cover exactly the
// tensors' elements. (Padding is zero and inert either way; keeping it out means the optimizer
// never writes it, which is the registry's promise.) In a real model most matrices are multiples
// of 64 elements long, so whole runs of hidden matrices collapse into one range.
//
// A "group" in the summary is one distinct (lr_scale, weight_decay) pair, however many ranges it
// takes: the log line says what the optimizer does to how much of the model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "cpu/adamw.h"
#include "tensor/param_registry.h"

namespace kiln {

// The ranges in flat-layout order (ascending begin), non-overlapping, each non-empty.
// Throws std::logic_error when the registry is not finalized (its layout could still change).
std::vector<cpu::AdamWGroupRange> build_group_ranges(const ParamRegistry& registry,
                                                     const OptimizerConfig& optimizer);

// One distinct (lr_scale, weight_decay) pair and what it covers.
struct ParamGroupSummary {
  double lr_scale = 1.0;
  double weight_decay = 0.0;
  int64_t tensors = 0;
  int64_t elements = 0;  // padding excluded
  int64_t ranges = 0;    // AdamWGroupRanges it takes
  std::string first_tensor;  // an example, to tell the groups apart in a log
};

// Groups in order of their first tensor in the registry. The elements add up to
// registry.param_count(). Throws as build_group_ranges does.
std::vector<ParamGroupSummary> summarize_param_groups(const ParamRegistry& registry,
                                                      const OptimizerConfig& optimizer);

// One line per group, for the start-of-run log, e.g.
//   "group 0: lr x1 wd 0.1: 2 tensors, 1,024 elements in 1 range (e.g. model.embed_tokens.weight)"
std::vector<std::string> format_param_groups(const std::vector<ParamGroupSummary>& groups);

}  // namespace kiln
