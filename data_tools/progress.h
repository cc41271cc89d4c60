// The progress line of long-running kiln-data commands, and the number formats it uses.
//
// Contract. Formatting is pure (numbers in, string out) so it is tested without clocks. The
// display writes to one FILE* (stderr): on a terminal it redraws one line in place ("\r", then
// erase to end of line) at most every `tty_interval` seconds; elsewhere (a log file, CI) it
// prints a plain line every `plain_interval` seconds, so logs get a heartbeat, not a flood of
// carriage returns. The display never writes to stdout, which is reserved for command output.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace kiln::data_tools {

struct ProgressSnapshot {
  uint64_t documents = 0;
  uint64_t bytes = 0;        // input bytes consumed
  uint64_t total_bytes = 0;  // all input bytes; 0 when unknown (then no percentage and no ETA)
  uint64_t tokens = 0;
  double seconds = 0;  // since the start
};

// 987 → "987", 12'345 → "12.3k", 4'567'890 → "4.57M", 1.2e9 → "1.20G": three significant digits.
std::string format_count(double n);
// 1234567 → "1,234,567".
std::string format_thousands(uint64_t n);
// Decimal megabytes with one decimal: 12'345'678 → "12.3 MB".
std::string format_megabytes(uint64_t bytes);
// 7 → "0:07", 754 → "12:34", 3723 → "1:02:03"; negative, NaN or infinite → "--:--".
std::string format_duration(double seconds);
// Seconds left at the average input rate so far; nullopt without a total, a rate or progress.
std::optional<double> eta_seconds(const ProgressSnapshot& s);
// "[#####---------------]  25%  1,234 docs  3.1/12.4 MB  850k tokens  2.4 MB/s  661k tok/s  ETA 0:04".
// The bar and the percentage only with a known total; the bar only when `bar` is true.
std::string format_progress(const ProgressSnapshot& s, bool bar);

class ProgressDisplay {
 public:
  // `enabled` false: every call is a no-op (--no-progress).
  ProgressDisplay(std::FILE* out, bool is_tty, bool enabled = true, double tty_interval = 0.1,
                  double plain_interval = 5.0);
  // Writes to stderr, redrawing in place when stderr is a terminal.
  static ProgressDisplay for_stderr(bool enabled = true);

  // Draws `s` when enough time (by s.seconds) has passed since the last draw.
  void update(const ProgressSnapshot& s);
  // Draws `s` one last time (on a terminal, then ends the line) unless nothing was ever drawn
  // and the run was short enough not to need a progress line at all.
  void finish(const ProgressSnapshot& s);
  // Seconds since construction, by the steady clock: what callers put in ProgressSnapshot::seconds.
  double elapsed() const;

 private:
  void draw(const ProgressSnapshot& s);

  std::FILE* out_;
  bool tty_;
  bool enabled_;
  double interval_;
  double last_draw_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace kiln::data_tools
