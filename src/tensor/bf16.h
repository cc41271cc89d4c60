// bfloat16: the upper 16 bits of an IEEE-754 binary32 (1 sign, 8 exponent, 7 mantissa bits).
//
// kiln stores parameters and activations in bf16 and computes in fp32: kernels widen with
// to_float (exact, a shift) and narrow with to_bf16 once per stored result, never accumulating in
// bf16. The conversions here are the reference that the CUDA kernels' __float2bfloat16_rn must
// agree with bit for bit, so they follow IEEE round-to-nearest-even exactly:
//
//   - ties go to the even neighbour: 1 + 2^-8 -> 1.0, 1 + 3·2^-8 -> 1 + 2^-6;
//   - values at or beyond halfway past the largest finite bf16 (0x7F7F) round to ±Inf, as IEEE
//     rounding to a narrower format does; ±Inf stay ±Inf;
//   - subnormals need no special case: adding the rounding bias to the bit pattern carries from
//     the mantissa into the exponent exactly where the value crosses a binade, including from the
//     largest subnormal into the smallest normal;
//   - NaN stays NaN: quiet, sign and the top payload bits kept. (Plain rounding could carry a NaN
//     whose payload sits in the low 16 bits into Inf, or truncate it to Inf.)
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace kiln {

// Trivial on purpose: arrays of bf16 are raw storage (memset, memcpy, zero-filled buffers), and
// bf16{0x3F80} names a value by its bits. There is no operator==; compare .bits or to_float().
struct bf16 {
  uint16_t bits;
};

constexpr float to_float(bf16 x) { return std::bit_cast<float>(static_cast<uint32_t>(x.bits) << 16); }

constexpr bf16 to_bf16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) {
    return bf16{static_cast<uint16_t>((u >> 16) | 0x0040u)};  // NaN: set the quiet bit
  }
  // Adding 0x7FFF rounds up anything above halfway; the extra 1 when the kept part is odd turns
  // the exact halfway case up as well, so that ties land on the even neighbour.
  const uint32_t lsb = (u >> 16) & 1u;
  return bf16{static_cast<uint16_t>((u + 0x7FFFu + lsb) >> 16)};
}

// Bulk conversions of n elements; src and dst must not overlap.
void to_bf16(const float* src, bf16* dst, size_t n);
void to_float(const bf16* src, float* dst, size_t n);

}  // namespace kiln
