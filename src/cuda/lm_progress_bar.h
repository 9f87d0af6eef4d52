// A byte-counting progress bar on stderr for long loads ("loading weights
// [#######.....] 58%  37.9/65.3 GB  11.8 GB/s  ETA 2s"), redrawn at most ten
// times a second; silent when disabled (stderr not a terminal, --quiet).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace emu35::cuda {

class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total_bytes, bool enabled);
  ~ProgressBar();  // finish()es
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void add(uint64_t bytes);
  void finish();  // draws 100% and ends the line (once)

  // Whether stderr is a terminal: the default for `enabled`.
  static bool stderr_is_tty();

 private:
  void draw(bool force);
  std::string label_;
  uint64_t total_, done_ = 0;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace emu35::cuda
