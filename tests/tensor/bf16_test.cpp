#include "tensor/bf16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace kiln {
namespace {

float from_bits(uint32_t u) { return std::bit_cast<float>(u); }
uint16_t rne(float f) { return to_bf16(f).bits; }

// An oracle that shares no bit tricks with to_bf16: take the two bf16 values that bracket |f|
// (truncation, and one unit further from zero), measure both distances in double, where they are
// exact, and break ties towards the neighbour whose last mantissa bit is 0. One unit above the
// largest finite bf16 is 2^128, which is what IEEE compares against before overflowing to Inf.
uint16_t reference_rne(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint32_t sign = u & 0x80000000u;
  const uint32_t down = (u & 0x7FFF0000u) >> 16;  // magnitude bits of the truncated neighbour
  const uint32_t up = down + 1;
  const double x = std::fabs(static_cast<double>(f));
  const double below = static_cast<double>(from_bits(down << 16));
  const double above = up == 0x7F80u ? std::ldexp(1.0, 128) : static_cast<double>(from_bits(up << 16));
  uint32_t pick;
  if (x - below < above - x) pick = down;
  else if (above - x < x - below) pick = up;
  else pick = (down & 1u) == 0 ? down : up;
  return static_cast<uint16_t>((sign >> 16) | pick);
}

TEST(Bf16, KnownBitPatterns) {
  EXPECT_EQ(rne(1.0f), 0x3F80);
  EXPECT_EQ(rne(-2.0f), 0xC000);
  EXPECT_EQ(rne(0.5f), 0x3F00);
  EXPECT_EQ(rne(3.140625f), 0x4049);  // 3.140625 = 0x40490000: representable, kept exactly
  EXPECT_EQ(to_float(bf16{0x4049}), 3.140625f);
  EXPECT_EQ(to_float(bf16{0x3F80}), 1.0f);
  EXPECT_EQ(to_float(bf16{0xC2F7}), -123.5f);
  EXPECT_EQ(rne(3.14159265f), 0x4049);  // pi rounds to its nearest bf16, 3.140625
}

TEST(Bf16, ExactHalfwayTiesGoToEven) {
  // 1 + 2^-8 lies halfway between 1.0 (0x3F80, even) and 1 + 2^-7 (0x3F81, odd).
  EXPECT_EQ(rne(1.00390625f), 0x3F80);
  // 1 + 3·2^-8 lies halfway between 0x3F81 (odd) and 1 + 2^-6 = 1.015625 (0x3F82, even).
  EXPECT_EQ(rne(1.01171875f), 0x3F82);
  EXPECT_EQ(to_float(to_bf16(1.01171875f)), 1.015625f);
  // Negative ties mirror the positive ones.
  EXPECT_EQ(rne(-1.00390625f), 0xBF80);
  EXPECT_EQ(rne(-1.01171875f), 0xBF82);
  // One float ulp either side of a tie is no longer a tie.
  EXPECT_EQ(rne(from_bits(0x3F808001)), 0x3F81);
  EXPECT_EQ(rne(from_bits(0x3F807FFF)), 0x3F80);
  EXPECT_EQ(rne(from_bits(0x3F817FFF)), 0x3F81);
  // A tie whose rounding carries into the exponent: 2 - 2^-8 is halfway between 0x3FFF and 2.0.
  EXPECT_EQ(rne(from_bits(0x3FFF8000)), 0x4000);
}

TEST(Bf16, OverflowAndInfinity) {
  const float max_float = std::numeric_limits<float>::max();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(rne(max_float), 0x7F80);   // beyond halfway past the largest finite bf16
  EXPECT_EQ(rne(-max_float), 0xFF80);
  EXPECT_EQ(rne(from_bits(0x7F7F8000)), 0x7F80);  // exactly halfway: the even neighbour is Inf
  EXPECT_EQ(rne(from_bits(0x7F7F7FFF)), 0x7F7F);  // just below halfway: largest finite
  EXPECT_EQ(rne(from_bits(0x7F7F0000)), 0x7F7F);
  EXPECT_EQ(rne(inf), 0x7F80);
  EXPECT_EQ(rne(-inf), 0xFF80);
  EXPECT_EQ(to_float(bf16{0x7F80}), inf);
  EXPECT_EQ(to_float(bf16{0xFF80}), -inf);
}

TEST(Bf16, NanStaysQuietNanWithSign) {
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(to_float(to_bf16(qnan))));
  EXPECT_EQ(rne(qnan) & 0x8000, 0);
  EXPECT_EQ(rne(-qnan), 0xFFC0);
  // Signalling NaNs whose payload sits only in the bits that are dropped: truncation or plain
  // rounding would give Inf; they must come out as quiet NaN.
  EXPECT_EQ(rne(from_bits(0x7F800001)), 0x7FC0);
  EXPECT_EQ(rne(from_bits(0xFF80FFFF)), 0xFFC0);
  // The payload bits that fit are kept.
  EXPECT_EQ(rne(from_bits(0x7FA00000)), 0x7FE0);
  EXPECT_EQ(rne(from_bits(0x7FC12345)), 0x7FC1);
}

TEST(Bf16, SignedZeros) {
  EXPECT_EQ(rne(0.0f), 0x0000);
  EXPECT_EQ(rne(-0.0f), 0x8000);
  EXPECT_TRUE(std::signbit(to_float(bf16{0x8000})));
  EXPECT_EQ(to_float(bf16{0x8000}), 0.0f);
}

TEST(Bf16, Subnormals) {
  EXPECT_EQ(to_float(bf16{0x0001}), std::ldexp(1.0f, -133));  // smallest bf16 subnormal
  EXPECT_EQ(rne(std::ldexp(1.0f, -133)), 0x0001);
  EXPECT_EQ(rne(from_bits(0x00000001)), 0x0000);  // smallest float subnormal rounds to +0
  EXPECT_EQ(rne(from_bits(0x80000001)), 0x8000);  // ... and its negative to -0
  EXPECT_EQ(rne(from_bits(0x00008000)), 0x0000);  // tie between 0 and 0x0001: even is 0
  EXPECT_EQ(rne(from_bits(0x00018000)), 0x0002);  // tie between 0x0001 and 0x0002
  EXPECT_EQ(rne(from_bits(0x007FFFFF)), 0x0080);  // largest float subnormal carries into the
  EXPECT_EQ(rne(from_bits(0x007F8000)), 0x0080);  // smallest normal, as does the tie below it
  EXPECT_EQ(rne(from_bits(0x007F7FFF)), 0x007F);
}

// Every bf16 is a float, so widening is exact and narrowing it again gives the same bits. The one
// exception is a signalling NaN, which comes back quiet (still NaN, same sign).
TEST(Bf16, EveryBitPatternRoundTripsThroughFloat) {
  for (uint32_t b = 0; b <= 0xFFFF; ++b) {
    const bf16 x{static_cast<uint16_t>(b)};
    const float f = to_float(x);
    const uint32_t exponent = (b >> 7) & 0xFF, mantissa = b & 0x7F;
    const float sign = (b & 0x8000) ? -1.0f : 1.0f;
    if (exponent == 0xFF && mantissa != 0) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << b;
      const uint16_t back = rne(f);
      ASSERT_EQ(back & 0x8000, b & 0x8000) << std::hex << b;
      ASSERT_EQ(back, b | 0x0040) << std::hex << b;  // exact for quiet NaNs, quietened otherwise
      continue;
    }
    // The value from its fields, computed independently of the bit shift in to_float.
    float expected;
    if (exponent == 0xFF) expected = sign * std::numeric_limits<float>::infinity();
    else if (exponent == 0) expected = sign * std::ldexp(static_cast<float>(mantissa), -133);
    else expected = sign * std::ldexp(static_cast<float>(128 + mantissa), static_cast<int>(exponent) - 134);
    ASSERT_EQ(f, expected) << std::hex << b;
    ASSERT_EQ(std::signbit(f), (b & 0x8000) != 0) << std::hex << b;
    ASSERT_EQ(rne(f), b) << std::hex << b;
  }
}

// Against the oracle: every tie, near-tie and boundary (each bf16 with the low halves that matter),
// then random bit patterns across the whole float range.
TEST(Bf16, MatchesReferenceRounding) {
  const uint32_t lows[] = {0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF};
  for (uint32_t high = 0; high <= 0xFFFF; ++high) {
    for (uint32_t low : lows) {
      const uint32_t u = (high << 16) | low;
      const float f = from_bits(u);
      if (std::isnan(f) || std::isinf(f)) continue;
      ASSERT_EQ(rne(f), reference_rne(f)) << std::hex << u;
    }
  }
  std::mt19937 rng(20240601);
  for (int i = 0; i < 1'000'000; ++i) {
    const float f = from_bits(rng());
    if (std::isnan(f) || std::isinf(f)) continue;
    ASSERT_EQ(rne(f), reference_rne(f)) << std::hex << std::bit_cast<uint32_t>(f);
  }
}

TEST(Bf16, BulkConversionsMatchElementwise) {
  const std::vector<float> src = {0.0f, -0.0f, 1.0f, 1.00390625f, 1.01171875f, -3.3e38f, std::numeric_limits<float>::max(),
                                  std::numeric_limits<float>::quiet_NaN(), 1e-40f, 65504.0f};
  std::vector<bf16> narrow(src.size(), bf16{0xFFFF});
  to_bf16(src.data(), narrow.data(), src.size());
  std::vector<float> wide(src.size(), -1.0f);
  to_float(narrow.data(), wide.data(), narrow.size());
  for (size_t i = 0; i < src.size(); ++i) {
    EXPECT_EQ(narrow[i].bits, rne(src[i])) << i;
    EXPECT_EQ(std::bit_cast<uint32_t>(wide[i]), std::bit_cast<uint32_t>(to_float(narrow[i]))) << i;
  }
  to_bf16(src.data(), narrow.data(), 0);  // n = 0 touches nothing
  EXPECT_EQ(narrow[0].bits, rne(src[0]));
}

TEST(Bf16, ConversionsAreConstexpr) {
  static_assert(to_bf16(1.0f).bits == 0x3F80);
  static_assert(to_float(bf16{0x4049}) == 3.140625f);
  static_assert(sizeof(bf16) == 2);
}

}  // namespace
}  // namespace kiln
