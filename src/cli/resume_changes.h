// What a resume changes: the resolved config this run starts with against the one recorded in the
// checkpoint it resumes from (the manifest keeps the config of the run that wrote it).
//
// Continuing with other settings is allowed — more steps, another schedule, another layout — but
// never silent: kiln train logs every key whose value differs, and the learning rate of the first
// update under each config, since a changed train.steps or schedule recomputes the whole curve
// (200 → 400 steps moved one run's lr at step 200 from 5.7e-05 back to 2.6e-03).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"

namespace kiln::cli {

struct ResumeChanges {
  int64_t step = 0;                  // the checkpoint's step: the next update is number `step`
  std::vector<std::string> keys;     // "train.steps: 200 → 400", one per differing key, sorted
  std::string lr;                    // "" when the lr at `step` is the same, else a sentence
};

// Reads the checkpoint's recorded config (nothing else) and compares. A checkpoint without a
// recorded config, or one this kiln cannot read as a config, gives no keys and says so in `lr`.
ResumeChanges resume_changes(const std::filesystem::path& checkpoint, const Config& now);

}  // namespace kiln::cli
