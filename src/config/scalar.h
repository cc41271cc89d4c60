// Strict conversion of YAML scalars to numbers and booleans.
//
// yaml-cpp's own conversions are too lenient in some places (it silently wraps) and too strict in
// others (YAML 1.1 allows `540_000`, which GPT-NeoX configs use). These accept:
//   integers: optional sign, digits with `_` separators, or a float literal with an exact integral
//             value (`1e6`); range-checked into int64.
//   floats:   decimal or exponent notation with optional `_` separators; finite only.
//   booleans: true/false, yes/no, on/off in lower, Title or UPPER case (YAML 1.1).
// Each returns std::nullopt when the text is not of that kind.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kiln {

std::optional<int64_t> parse_int(std::string_view text);
std::optional<double> parse_float(std::string_view text);
std::optional<bool> parse_bool(std::string_view text);

}  // namespace kiln
