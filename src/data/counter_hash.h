// Counter-based hashing shared by the data streams: a sample, a permutation round or a chain draw
// is a pure function of its key, so nothing depends on the order things were computed in (which is
// what makes samples addressable by index and resume exact). Integer arithmetic only, so every
// platform and compiler gives the same streams.
#pragma once

#include <cstdint>

namespace kiln {

inline constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ull;

// SplitMix64's output function: a bijective 64-bit mixer.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Hashes b into a: order matters, so (a, b) and (b, a) name different streams.
inline uint64_t hash_combine(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b + kGoldenGamma)); }

}  // namespace kiln
