// A counter-based random stream: value number i of stream `key` is a pure function of (key, i).
//
// Parameter initialisation must not depend on the order tensors are registered in, on how many
// threads fill them, or (later) on which tensor-parallel rank holds which rows. A sequential
// generator would tie every value to everything drawn before it; a counter-based one lets any
// element be computed on its own: key the stream by (seed, tensor name), index it by the
// element's global position. The mixer is SplitMix64's finaliser (Steele, Lea & Flood, 2014),
// which passes BigCrush as a counter-mode generator and is a handful of multiplies.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>

namespace kiln {

// SplitMix64: the golden-ratio increment followed by the finalising mix.
constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// 64-bit FNV-1a of a string: a stable hash (std::hash is not specified across platforms).
constexpr uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

class CounterRng {
 public:
  // The stream for one purpose (e.g. one tensor's initial values) under one seed.
  CounterRng(uint64_t seed, std::string_view purpose) : key_(splitmix64(seed ^ splitmix64(fnv1a64(purpose)))) {}

  // 64 random bits: draw number `draw` of element `element`. Elements needing several draws
  // (Box–Muller takes two, rejection sampling a few more) index them with `draw`.
  uint64_t bits(uint64_t element, uint64_t draw) const {
    return splitmix64(splitmix64(key_ + splitmix64(element)) + draw);
  }

  // Uniform in (0, 1]: the top 53 bits, shifted off zero so that log() is finite.
  double uniform(uint64_t element, uint64_t draw) const {
    return (static_cast<double>(bits(element, draw) >> 11) + 1.0) * 0x1.0p-53;
  }

  // A standard normal by Box–Muller from draws 2·attempt and 2·attempt + 1 (the cosine half).
  double normal(uint64_t element, uint64_t attempt = 0) const {
    const double u1 = uniform(element, 2 * attempt);
    const double u2 = uniform(element, 2 * attempt + 1);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

  // A standard normal conditioned on |z| ≤ bound (> 0), by rejection: attempt after attempt until
  // one lands inside. Each attempt uses its own draws, so the result is still a function of
  // (key, element) alone.
  double truncated_normal(uint64_t element, double bound) const {
    for (uint64_t attempt = 0;; ++attempt) {
      const double z = normal(element, attempt);
      if (std::fabs(z) <= bound) return z;
    }
  }

 private:
  uint64_t key_;
};

}  // namespace kiln
