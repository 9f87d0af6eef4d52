#include "app/edit/row_progress.h"

#include "app/progress.h"

#include <cstdio>
#include <unistd.h>


namespace emu35::app::edit {

namespace {
std::string format_eta(double s) { return ProgressLine::format_duration(s); }

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

RowProgress::RowProgress(size_t total, bool enabled)
    : enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0), total_(total) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

RowProgress::~RowProgress() { finish(); }

void RowProgress::row_event(size_t row, const StepEvent& ev) {
  inflight_[row] = ev;
  ++tokens_;
  draw(false);
}

void RowProgress::row_done(size_t row, bool ok) {
  inflight_.erase(row);
  ++(ok ? done_ : failed_);
  draw(true);
}

double RowProgress::rows_per_hour() const {
  const double el = since(start_);
  return el > 0 && done_ + failed_ > 0 ? (done_ + failed_) * 3600.0 / el : 0.0;
}

void RowProgress::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && std::chrono::duration<double>(now - last_draw_).count() < (tty_ ? 0.2 : 10.0)) return;
  if (force && !tty_ && std::chrono::duration<double>(now - last_draw_).count() < 10.0 && done_ + failed_ < total_) return;
  last_draw_ = now;
  const double el = since(start_);
  const size_t finished = done_ + failed_;
  const double rph = rows_per_hour();
  const double eta = rph > 0 ? (total_ - finished) * 3600.0 / rph : -1;
  char line[320];
  int n = std::snprintf(line, sizeof line, "rows %zu/%zu", finished, total_);
  if (failed_) n += std::snprintf(line + n, sizeof line - n, " (%zu failed)", failed_);
  n += std::snprintf(line + n, sizeof line - n, " | %.1f rows/h | ETA %s", rph,
                     finished == total_ ? "0s" : format_eta(eta).c_str());
  int rows = 0, rows_total = 0;
  for (auto& [r, ev] : inflight_)
    if (ev.image.in_image && ev.image.rows_total > 0) {
      rows += ev.image.rows_done;
      rows_total += ev.image.rows_total;
    }
  const double tps = el > 0 ? tokens_ / el : 0;
  if (!inflight_.empty()) {
    if (rows_total > 0)
      n += std::snprintf(line + n, sizeof line - n, " | drawing rows %d/%d | %.1f tok/s", rows, rows_total, tps);
    else
      n += std::snprintf(line + n, sizeof line - n, " | %.1f tok/s", tps);
  }
  if (tty_) std::fprintf(stderr, "\r%-110s", line);
  else std::fprintf(stderr, "%s\n", line);
  std::fflush(stderr);
  drawn_ = tty_;
}

void RowProgress::clear() {
  if (enabled_ && tty_ && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

void RowProgress::redraw() {
  if (enabled_ && tty_ && drawn_) draw(true);
}

void RowProgress::finish() {
  if (enabled_ && tty_ && drawn_) {
    draw(true);
    std::fprintf(stderr, "\n");
  }
  drawn_ = false;
  enabled_ = false;
}

}  // namespace emu35::app::edit
