#include "app/progress.h"

#include <cstdio>
#include <unistd.h>

namespace emu35::app {

ProgressLine::ProgressLine(size_t n, bool enabled)
    : enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0), last_(n), finished_(n, false) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

ProgressLine::~ProgressLine() { done(); }

std::string ProgressLine::format_duration(double s) {
  char buf[32];
  if (!(s >= 0) || s > 1e7) return "?";
  long t = static_cast<long>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

void ProgressLine::update(size_t request, const StepEvent& ev) {
  if (request >= last_.size()) return;
  last_[request] = ev;
  ++tokens_;
  draw(false);
}

void ProgressLine::finish_request(size_t request) {
  if (request < finished_.size()) finished_[request] = true;
  draw(true);
}

void ProgressLine::draw(bool force) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  // A terminal gets a redrawn line 5x a second; a log file one line every 10 s.
  const double every = tty_ ? 0.2 : 10.0;
  if (!force && std::chrono::duration<double>(now - last_draw_).count() < every) return;
  last_draw_ = now;
  const double el = std::chrono::duration<double>(now - start_).count();
  const double tps = el > 0 ? tokens_ / el : 0;
  size_t done = 0;
  int rows = 0, rows_total = 0;
  bool drawing = false;
  for (size_t i = 0; i < last_.size(); ++i) {
    if (finished_[i]) {
      ++done;
      continue;
    }
    if (last_[i].image.in_image && last_[i].image.rows_total > 0) {
      drawing = true;
      rows += last_[i].image.rows_done;
      rows_total += last_[i].image.rows_total;
    }
  }
  char line[256];
  int n = 0;
  if (last_.size() > 1) n += std::snprintf(line + n, sizeof line - n, "requests %zu/%zu | ", done, last_.size());
  if (drawing) {
    // Rows left x (columns + 1) tokens each, at the current rate.
    double eta = -1;
    if (tps > 0 && rows_total > 0 && rows > 0) eta = el * (rows_total - rows) / rows;
    n += std::snprintf(line + n, sizeof line - n, "drawing rows %d/%d | %.1f tok/s | ETA %s", rows, rows_total, tps,
                       format_duration(eta).c_str());
  } else {
    n += std::snprintf(line + n, sizeof line - n, "%zu tokens | %.1f tok/s | %s", tokens_, tps, format_duration(el).c_str());
  }
  if (tty_) std::fprintf(stderr, "\r%-100s", line);
  else std::fprintf(stderr, "%s\n", line);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::done() {
  if (enabled_ && drawn_ && tty_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

}  // namespace emu35::app
