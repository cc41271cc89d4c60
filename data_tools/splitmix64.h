// A small, fixed pseudo-random generator for data that must be identical everywhere.
//
// std::uniform_*_distribution are implementation-defined (libstdc++ and libc++ give different
// numbers for the same engine), so generators whose output is a file that tests and docs pin down
// use this instead: splitmix64 (Steele, Lea, Flood 2014) and plain integer arithmetic only.
#pragma once

#include <cstdint>
#include <span>

#include "data/counter_hash.h"

namespace kiln::data_tools {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() { return mix64(state_ += kGoldenGamma); }

  // Uniform in [0, n) for 1 ≤ n ≤ 2^32: the high 32 bits scaled by n (bias below 2^-32 · n,
  // irrelevant here, and no rejection loop, so one draw per call on every platform).
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(((next() >> 32) * n) >> 32); }
  // Uniform in [lo, hi].
  int64_t between(int64_t lo, int64_t hi) { return lo + below(static_cast<uint32_t>(hi - lo + 1)); }
  // True with probability num/den.
  bool chance(uint32_t num, uint32_t den) { return below(den) < num; }

  template <class T>
  const T& pick(std::span<const T> items) {
    return items[below(static_cast<uint32_t>(items.size()))];
  }

 private:
  uint64_t state_;
};

}  // namespace kiln::data_tools
