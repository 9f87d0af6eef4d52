#include "cuda/vq_profile.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "cuda/vq_context.h"

namespace emu35::cuda::ibq {

namespace {

struct Totals {
  std::mutex mu;
  std::map<std::string, std::pair<double, int>> by_label;
};

Totals& totals() {
  static Totals t;
  return t;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

bool op_profiling() {
  static const bool on = [] {
    const char* e = std::getenv("EMU35_VQ_PROFILE");
    return e && std::string(e) == "1";
  }();
  return on;
}

OpTimer::OpTimer(GpuContext& ctx, const char* op, int c, int h, int w) {
  if (!op_profiling()) return;
  ctx_ = &ctx;
  label_ = std::string(op) + " " + std::to_string(c) + "@" + std::to_string(h) + "x" + std::to_string(w);
  ctx.synchronize();
  t0_ = now_s();
}

OpTimer::~OpTimer() {
  if (!ctx_) return;
  try {
    ctx_->synchronize();
  } catch (...) {
    return;  // the error surfaces at the caller's next CUDA call
  }
  const double dt = now_s() - t0_;
  Totals& t = totals();
  std::lock_guard lock(t.mu);
  auto& e = t.by_label[label_];
  e.first += dt;
  e.second += 1;
}

std::string op_profile_report() {
  Totals& t = totals();
  std::lock_guard lock(t.mu);
  std::vector<std::pair<std::string, std::pair<double, int>>> rows(t.by_label.begin(), t.by_label.end());
  t.by_label.clear();
  double sum = 0;
  for (const auto& r : rows) sum += r.second.first;
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  std::string out;
  char line[256];
  for (const auto& [label, v] : rows) {
    std::snprintf(line, sizeof line, "  %-44s %9.2f ms %5d calls %5.1f%%\n", label.c_str(), v.first * 1e3, v.second,
                  sum > 0 ? 100.0 * v.first / sum : 0.0);
    out += line;
  }
  if (!rows.empty()) {
    std::snprintf(line, sizeof line, "  %-44s %9.2f ms\n", "total (serialised)", sum * 1e3);
    out += line;
  }
  return out;
}

}  // namespace emu35::cuda::ibq
