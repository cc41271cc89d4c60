#include "progress.h"

#include <unistd.h>

#include <cmath>

#include <fmt/core.h>

namespace kiln::data_tools {

std::string format_count(double n) {
  if (!(n >= 0)) return "?";
  if (n < 1000) return fmt::format("{:.0f}", n);
  static constexpr const char* kSuffix[] = {"k", "M", "G", "T", "P"};
  int k = -1;
  while (n >= 999.5 && k < 4) {
    n /= 1000;
    ++k;
  }
  // Three significant digits: 1.23k, 12.3k, 123k.
  const int decimals = n < 9.995 ? 2 : n < 99.95 ? 1 : 0;
  return fmt::format("{:.{}f}{}", n, decimals, kSuffix[k]);
}

std::string format_thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_megabytes(uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto total = static_cast<uint64_t>(std::llround(seconds));
  const uint64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
  return fmt::format("{}:{:02}", m, s);
}

std::optional<double> eta_seconds(const ProgressSnapshot& s) {
  if (s.total_bytes == 0 || s.bytes == 0 || s.seconds <= 0) return std::nullopt;
  if (s.bytes >= s.total_bytes) return 0.0;
  const double rate = static_cast<double>(s.bytes) / s.seconds;
  return static_cast<double>(s.total_bytes - s.bytes) / rate;
}

std::string format_progress(const ProgressSnapshot& s, bool bar) {
  std::string line;
  if (s.total_bytes > 0) {
    const double fraction = std::min(1.0, static_cast<double>(s.bytes) / static_cast<double>(s.total_bytes));
    if (bar) {
      constexpr int kWidth = 20;
      const int filled = static_cast<int>(fraction * kWidth);
      line += "[" + std::string(filled, '#') + std::string(kWidth - filled, '-') + "] ";
    }
    line += fmt::format("{:3.0f}%  ", std::floor(fraction * 100));
  }
  line += format_thousands(s.documents) + " docs  ";
  if (s.total_bytes > 0)
    line += fmt::format("{:.1f}/{}", static_cast<double>(s.bytes) / 1e6, format_megabytes(s.total_bytes));
  else
    line += format_megabytes(s.bytes);
  line += "  " + format_count(static_cast<double>(s.tokens)) + " tokens";
  if (s.seconds > 0) {
    line += fmt::format("  {:.1f} MB/s  {} tok/s", static_cast<double>(s.bytes) / 1e6 / s.seconds,
                        format_count(static_cast<double>(s.tokens) / s.seconds));
  }
  if (s.total_bytes > 0) {
    const auto eta = eta_seconds(s);
    line += "  ETA " + (eta ? format_duration(*eta) : std::string("--:--"));
  }
  return line;
}

ProgressDisplay::ProgressDisplay(std::FILE* out, bool is_tty, bool enabled, double tty_interval, double plain_interval)
    : out_(out),
      tty_(is_tty),
      enabled_(enabled),
      interval_(is_tty ? tty_interval : plain_interval),
      start_(std::chrono::steady_clock::now()) {}

ProgressDisplay ProgressDisplay::for_stderr(bool enabled) { return ProgressDisplay(stderr, ::isatty(2) == 1, enabled); }

double ProgressDisplay::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressDisplay::draw(const ProgressSnapshot& s) {
  if (tty_)
    fmt::print(out_, "\r{}\x1b[K", format_progress(s, true));  // \x1b[K: erase what a longer line left
  else
    fmt::print(out_, "{}\n", format_progress(s, false));
  std::fflush(out_);
  last_draw_ = s.seconds;
  drawn_ = true;
}

void ProgressDisplay::update(const ProgressSnapshot& s) {
  if (!enabled_) return;
  if (s.seconds - last_draw_ >= interval_) draw(s);
}

void ProgressDisplay::finish(const ProgressSnapshot& s) {
  if (!enabled_) return;
  // A run that ended before the first plain heartbeat needs no progress line: the summary says it.
  if (!drawn_ && !tty_) return;
  draw(s);
  if (tty_) fmt::print(out_, "\n");
}

}  // namespace kiln::data_tools
