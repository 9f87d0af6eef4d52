// One live status line on stderr while generating (rows drawn, tokens per
// second, ETA), redrawn at most a few times a second; quiet when disabled.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "gen/generator.h"

namespace emu35::app {

class ProgressLine {
 public:
  ProgressLine(size_t num_requests, bool enabled);
  ~ProgressLine();
  void update(size_t request, const StepEvent& ev);
  void finish_request(size_t request);
  void done();  // ends the line
  // "1h02m", "3m05s", "12s"
  static std::string format_duration(double seconds);

 private:
  void draw(bool force);
  bool enabled_, tty_;
  std::vector<StepEvent> last_;
  std::vector<bool> finished_;
  size_t tokens_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace emu35::app
