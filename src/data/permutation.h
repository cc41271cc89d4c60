// A random permutation of [0, n) evaluated index by index, in O(1) time and memory.
//
// Why not a shuffled index array (as GPT-NeoX and Megatron-LM build and cache as .npy files): a
// 1 T-token dataset at sequence 4096 has ~250 M samples, so every rank would hold (and every
// epoch rebuild) gigabytes of indices. A keyed bijection needs none: a 4-round Feistel network on
// the smallest even number of bits covering n, with cycle-walking (re-applying the network until
// the value falls inside [0, n)), which keeps it a bijection of [0, n). The domain is < 4n, so a
// walk takes under 4 rounds on average. The key fixes the permutation; integer arithmetic only,
// so it is the same on every machine.
#pragma once

#include <cstdint>

namespace kiln {

class RandomPermutation {
 public:
  RandomPermutation(uint64_t n, uint64_t key);

  // The image of i ∈ [0, n).
  uint64_t operator()(uint64_t i) const;
  uint64_t size() const { return n_; }

 private:
  uint64_t feistel(uint64_t x) const;

  uint64_t n_;
  uint64_t key_;
  int half_bits_ = 0;
  uint64_t half_mask_ = 0;
};

}  // namespace kiln
