#include "cuda/lm_progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace emu35::cuda {

ProgressBar::ProgressBar(std::string label, uint64_t total_bytes, bool enabled)
    : label_(std::move(label)), total_(total_bytes), enabled_(enabled) {
  start_ = last_ = std::chrono::steady_clock::now();
  draw(true);
}

ProgressBar::~ProgressBar() { finish(); }

bool ProgressBar::stderr_is_tty() { return isatty(STDERR_FILENO) != 0; }

void ProgressBar::add(uint64_t bytes) {
  done_ = std::min(total_, done_ + bytes);
  draw(false);
}

void ProgressBar::finish() {
  if (finished_) return;
  done_ = total_;
  draw(true);
  finished_ = true;
  if (enabled_) std::fputc('\n', stderr);
}

void ProgressBar::draw(bool force) {
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const double frac = total_ ? double(done_) / double(total_) : 1.0;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? double(done_) / secs : 0.0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  char eta[32] = "";
  if (rate > 0 && done_ < total_) std::snprintf(eta, sizeof eta, "  ETA %.0fs", double(total_ - done_) / rate);
  std::fprintf(stderr, "\r%s [%s] %3.0f%%  %.1f/%.1f GB  %.1f GB/s%s   ", label_.c_str(), bar.c_str(), frac * 100.0,
               double(done_) / 1e9, double(total_) / 1e9, rate / 1e9, eta);
  std::fflush(stderr);
}

}  // namespace emu35::cuda
