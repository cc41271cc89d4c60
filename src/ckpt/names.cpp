#include "ckpt/names.h"

#include <charconv>
#include <cstdio>

namespace kiln::ckpt {

std::string step_dir_name(int64_t step) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "step-%08lld", static_cast<long long>(step));
  return buf;
}

std::optional<int64_t> parse_step_dir_name(std::string_view name) {
  constexpr std::string_view prefix = "step-";
  if (!name.starts_with(prefix)) return std::nullopt;
  const std::string_view digits = name.substr(prefix.size());
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  int64_t step = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return step;
}

bool is_temporary_name(std::string_view name) {
  return name.starts_with("step-") && name.find(".tmp-") != std::string_view::npos;
}

std::string rank_file_name(int tp_rank, int dp_rank) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "rank-%05d-%05d.bin", tp_rank, dp_rank);
  return buf;
}

}  // namespace kiln::ckpt
