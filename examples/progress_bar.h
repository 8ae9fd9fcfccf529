// A terminal progress bar for training loops: step, loss, throughput and the
// time left.
//
// On a terminal (stdout is a TTY) one line is redrawn in place with '\r' at
// most a few times a second; otherwise (a pipe, a log file) a plain line is
// printed every `log_every` steps, so logs stay readable. message() prints a
// line of its own (a validation result, a checkpoint note) without breaking
// the bar.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace loom::examples {

// "4:05" or "1:02:03".
inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02d}", s / 60, s % 60);
}

class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;

  // A bar for steps (first_step, last_step]; `log_every` (>= 1) is the plain-line
  // period when stdout is not a terminal; `unit` names what the throughput counts.
  ProgressBar(std::int64_t first_step, std::int64_t last_step, std::int64_t log_every, std::string unit = "chars")
      : first_step_(first_step), last_step_(last_step), log_every_(log_every), unit_(std::move(unit)),
        tty_(isatty(fileno(stdout)) != 0), start_(Clock::now()), last_draw_(start_) {}

  bool is_tty() const { return tty_; }
  // Seconds since construction.
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  // Reports that `step` is done with this (smoothed) training loss and
  // throughput (units per second).
  void update(std::int64_t step, double loss, double chars_per_second, double lr) {
    const double done = static_cast<double>(step - first_step_);
    const double left = done > 0 ? elapsed() / done * static_cast<double>(last_step_ - step) : -1;
    const std::string stats = fmt::format("step {}/{}  loss {:.3f}  {:.0f} {}/s  lr {:.2e}  left {}", step,
                                          last_step_, loss, chars_per_second, unit_, lr, format_duration(left));
    if (tty_) {
      const auto now = Clock::now();
      if (step != last_step_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
      last_draw_ = now;
      const double fraction = static_cast<double>(step) / static_cast<double>(last_step_);
      const int filled = static_cast<int>(fraction * kWidth);
      line_ = fmt::format("[{:=<{}}{:<{}}] {}", "", filled, "", kWidth - filled, stats);
      fmt::print("\r{}\x1b[K", line_);
      std::fflush(stdout);
    } else if (step % log_every_ == 0 || step == last_step_) {
      fmt::print("{}\n", stats);
      std::fflush(stdout);
    }
  }

  // Prints `text` on a line of its own (the bar, if drawn, is redrawn below it).
  void message(const std::string& text) {
    if (tty_ && !line_.empty()) {
      fmt::print("\r\x1b[K{}\n{}", text, line_);
    } else {
      fmt::print("{}\n", text);
    }
    std::fflush(stdout);
  }

  // Ends the bar's line (call once after the last update).
  void finish() {
    if (tty_ && !line_.empty()) fmt::print("\n");
    line_.clear();
    std::fflush(stdout);
  }

 private:
  static constexpr int kWidth = 24;
  std::int64_t first_step_, last_step_, log_every_;
  std::string unit_;
  bool tty_;
  Clock::time_point start_, last_draw_;
  std::string line_;  // the bar as last drawn (empty: nothing on screen)
};

}  // namespace loom::examples
