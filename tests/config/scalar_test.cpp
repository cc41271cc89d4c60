#include "config/scalar.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(ParseInt, AcceptsPlainSeparatedAndIntegralFloats) {
  EXPECT_EQ(parse_int("42"), 42);
  EXPECT_EQ(parse_int("-7"), -7);
  EXPECT_EQ(parse_int("+7"), 7);
  EXPECT_EQ(parse_int("540_000"), 540000);  // GPT-NeoX style; yaml-cpp 0.7 refuses it
  EXPECT_EQ(parse_int("1e6"), 1000000);
  EXPECT_EQ(parse_int("4.0"), 4);
}

TEST(ParseInt, RefusesWhatIsNotAnInteger) {
  for (const char* bad : {"", "abc", "1.5", "1_", "_1", "1__0", "0x10", "12abc", "99999999999999999999", "nan"})
    EXPECT_FALSE(parse_int(bad).has_value()) << bad;
}

TEST(ParseFloat, AcceptsDecimalAndExponent) {
  EXPECT_DOUBLE_EQ(*parse_float("3.2e-4"), 3.2e-4);
  EXPECT_DOUBLE_EQ(*parse_float("1.0e-8"), 1e-8);
  EXPECT_DOUBLE_EQ(*parse_float("0."), 0.0);
  EXPECT_DOUBLE_EQ(*parse_float("10_000"), 10000.0);
  EXPECT_DOUBLE_EQ(*parse_float("-0.5"), -0.5);
}

TEST(ParseFloat, RefusesNonFiniteAndJunk) {
  for (const char* bad : {"", "inf", "nan", ".inf", "1e999", "0x1p3", "1.0f", "one"})
    EXPECT_FALSE(parse_float(bad).has_value()) << bad;
}

TEST(ParseBool, Yaml11Spellings) {
  EXPECT_EQ(parse_bool("true"), true);
  EXPECT_EQ(parse_bool("Yes"), true);
  EXPECT_EQ(parse_bool("OFF"), false);
  EXPECT_FALSE(parse_bool("1").has_value());
  EXPECT_FALSE(parse_bool("tru").has_value());
}

}  // namespace
}  // namespace kiln
