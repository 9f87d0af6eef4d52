// Where an IBQ pass spends its time, per operation and shape: with
// EMU35_VQ_PROFILE=1 every layer call (vq_layers.cpp and friends) waits for
// the stream before and after itself and adds its wall time under a label.
// This serialises the pass, so it is for finding the slow parts only
// (`emu35 bench --only vq` prints the table after each decode row).
#pragma once
#include <string>

namespace emu35::cuda::ibq {

class GpuContext;

bool op_profiling();  // EMU35_VQ_PROFILE=1, read once

class OpTimer {
 public:
  OpTimer(GpuContext& ctx, const char* op, int c, int h, int w);  // label "op C@HxW"
  ~OpTimer();
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  GpuContext* ctx_ = nullptr;  // null when not profiling
  std::string label_;
  double t0_ = 0;
};

// The accumulated times, largest total first (one line per label: total ms,
// calls, share), then clears them. Empty when not profiling.
std::string op_profile_report();

}  // namespace emu35::cuda::ibq
