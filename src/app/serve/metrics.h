// Counters, gauges and histograms for GET /metrics, in Prometheus' text
// exposition format. Thread-safe; cheap enough to update every step.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace emu35::app::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  // Lines for `name` (with optional extra labels, e.g. `kind="x"`).
  void render(std::string& out, const std::string& name) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct LiveGauges {
  int ready = 0;  // weights loaded
  size_t queue_depth = 0, active = 0, max_batch = 0, max_queue = 0;
};

class Metrics {
 public:
  Metrics();
  void prediction_finished(const std::string& status, double predict_seconds, double queue_seconds);
  void prediction_rejected(const std::string& reason);  // queue_full, invalid, unauthorized
  void http_response(int code);
  // One generator step: wall time, requests and forward rows in it, tokens made.
  void step(double seconds, size_t requests, size_t rows, int tokens);
  void preview(double seconds);
  std::string render(const LiveGauges& g) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> finished_, rejected_;
  std::map<int, uint64_t> http_;
  uint64_t tokens_total_ = 0, steps_total_ = 0, previews_total_ = 0;
  Histogram step_seconds_, batch_size_, predict_seconds_, queue_seconds_;
  size_t last_batch_ = 0, last_rows_ = 0;
  // Tokens of the last few seconds, for a tokens-per-second gauge.
  std::deque<std::pair<std::chrono::steady_clock::time_point, int>> recent_;
};

}  // namespace emu35::app::serve
