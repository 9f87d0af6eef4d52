// The edit progress bar on stderr: rows done/total, failures, rows per hour,
// ETA, plus the per-picture line of the rows in flight (picture rows drawn,
// tokens per second). Redrawn in place on a terminal (5x a second); one plain
// line every 10 s when stderr is a file.
#pragma once
#include <chrono>
#include <cstddef>
#include <map>
#include <string>

#include "gen/generator.h"

namespace emu35::app::edit {

class RowProgress {
 public:
  RowProgress(size_t total_rows, bool enabled);
  ~RowProgress();
  void row_event(size_t row, const StepEvent& ev);  // a token of an in-flight row
  void row_done(size_t row, bool ok);
  void clear();   // wipe the bar (before a log line)
  void redraw();  // draw it again (after a log line)
  void finish();  // end the bar for good
  // Rows per hour over this run so far (0 before the first row ends).
  double rows_per_hour() const;

 private:
  void draw(bool force);
  bool enabled_, tty_;
  size_t total_, done_ = 0, failed_ = 0, tokens_ = 0;
  std::map<size_t, StepEvent> inflight_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace emu35::app::edit
