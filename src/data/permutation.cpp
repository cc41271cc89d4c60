#include "data/permutation.h"

#include <bit>

#include "data/counter_hash.h"

namespace kiln {

RandomPermutation::RandomPermutation(uint64_t n, uint64_t key) : n_(n), key_(mix64(key)) {
  const int bits = n <= 1 ? 0 : std::bit_width(n - 1);  // values 0 … n−1 fit in `bits` bits
  half_bits_ = (bits + 1) / 2;
  if (half_bits_ == 0) half_bits_ = 1;
  half_mask_ = (uint64_t{1} << half_bits_) - 1;
}

uint64_t RandomPermutation::feistel(uint64_t x) const {
  uint64_t left = x >> half_bits_, right = x & half_mask_;
  for (uint64_t round = 0; round < 4; ++round) {
    const uint64_t f = hash_combine(key_ + round, right) & half_mask_;
    const uint64_t next_right = left ^ f;
    left = right;
    right = next_right;
  }
  return (left << half_bits_) | right;
}

uint64_t RandomPermutation::operator()(uint64_t i) const {
  if (n_ <= 1) return i;
  uint64_t x = feistel(i);
  while (x >= n_) x = feistel(x);  // cycle-walk: the cycle through i returns below n
  return x;
}

}  // namespace kiln
