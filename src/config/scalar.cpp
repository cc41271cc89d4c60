#include "config/scalar.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace kiln {
namespace {

// Removes `_` digit separators, but only between digits: `1__0`, `_1` and `1_` are refused.
std::optional<std::string> strip_separators(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '_') {
      out += text[i];
      continue;
    }
    bool digit_before = i > 0 && std::isdigit(static_cast<unsigned char>(text[i - 1]));
    bool digit_after = i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1]));
    if (!digit_before || !digit_after) return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<int64_t> parse_int(std::string_view text) {
  auto clean = strip_separators(text);
  if (!clean || clean->empty()) return std::nullopt;
  std::string_view s = *clean;
  if (s.front() == '+') s.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc() && end == s.data() + s.size()) return value;
  if (ec == std::errc::result_out_of_range) return std::nullopt;
  // An exactly integral float literal such as 1e6 or 4.0.
  auto f = parse_float(text);
  if (!f || *f != std::floor(*f) || std::fabs(*f) > 9.007199254740992e15) return std::nullopt;
  return static_cast<int64_t>(*f);
}

std::optional<double> parse_float(std::string_view text) {
  auto clean = strip_separators(text);
  if (!clean || clean->empty()) return std::nullopt;
  const std::string& s = *clean;
  // strtod also reads hex floats, "inf" and "nan"; a config number is plain decimal.
  for (char c : s)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' || c == '+' ||
          c == '-'))
      return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(std::string_view text) {
  for (std::string_view t : {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"})
    if (text == t) return true;
  for (std::string_view f : {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"})
    if (text == f) return false;
  return std::nullopt;
}

}  // namespace kiln
