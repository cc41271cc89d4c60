// Importing a GPT-NeoX training config (`kiln config import-neox`).
//
// Contract:
// - The input is a GPT-NeoX YAML file (JSON-like, `#` comments, `540_000`-style numbers). Keys are
//   normalised hyphens → underscores, as GPT-NeoX does; two spellings of one key are an error.
// - Every key is accounted for. A key is either
//     mapped     to the kiln key with the same meaning (EleutherAI gpt-neox semantics, plus the
//                Stability-AI fork's `mlp_type`, `mlp_multiple_of`, `cooldown` and hybrid schedules);
//     ignored    because it only concerns infrastructure (logging services, launchers, fused-kernel
//                and parallel-layout choices that leave the math unchanged); listed in `ignored`;
//     refused    because kiln cannot reproduce it (pipeline parallelism, dropout, fp16, …) or does
//                not know it at all (it might change the math).
//   All refusals are collected and thrown together as one ConfigError; each Diagnostic's `where` is
//   "file:line:col" of the offending key (the file alone when a missing key is to blame).
// - Values are mapped as written. Where the file leaves a math-relevant key out, GPT-NeoX's default
//   for it is written explicitly (biases on, tied embeddings, rotary_pct 1.0, warmup 0.01, …), so
//   kiln's own defaults never silently decide the model or the schedule. Infrastructure keys that
//   the file leaves out are left out of the result.
// - Nothing is corrected. A file that disagrees with the model it produced (Stable LM 2's config
//   says no Q/K/V biases; the released model has them) imports as written; the caller adds
//   overrides (`--set model.qkv_bias=true`) on top through load_config_tree.
// - The vocabulary size is not in a GPT-NeoX config. It comes from `options.vocab_size`, else from a
//   small table of well-known tokenizer files (by the file name of `vocab_file`), else the import
//   is refused asking for it. Where it came from is recorded in `notes`.
//
// The result is a kiln config tree, not a validated Config: pass it to load_config_tree (with any
// overrides) to get one. Every emitted value has already been checked against its schema field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config_error.h"

namespace kiln {

struct NeoxImport {
  // Nested kiln tree ({model: {...}, optimizer: {...}, ...}) holding only the keys the NeoX file
  // determines, in schema order.
  YAML::Node config;
  // Keys skipped as infrastructure or implementation choices, as written in the file
  // ("wandb_host", "zero_optimization.overlap_comm"), in file order, each once.
  std::vector<std::string> ignored;
  // Things the user should know: where the vocabulary size came from, values kiln reads
  // differently, settings the file leaves to the launcher.
  std::vector<std::string> notes;
};

struct NeoxImportOptions {
  std::optional<int64_t> vocab_size;  // the tokenizer's size; overrides the built-in table
};

// Throws ConfigError listing every refused key.
NeoxImport import_neox(const std::filesystem::path& file, const NeoxImportOptions& options = {});

}  // namespace kiln
