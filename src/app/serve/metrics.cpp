#include "app/serve/metrics.h"

#include <cstdio>

namespace emu35::app::serve {

namespace {
using Clock = std::chrono::steady_clock;
constexpr double kWindowSeconds = 5.0;

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}
}  // namespace

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  ++count_;
  sum_ += v;
}

void Histogram::render(std::string& out, const std::string& name) const {
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum " + num(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : step_seconds_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}),
      batch_size_({1, 2, 3, 4, 6, 8, 12, 16, 24, 32}),
      predict_seconds_({0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}),
      queue_seconds_({0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300}) {
  for (const char* s : {"succeeded", "failed", "canceled"}) finished_[s] = 0;
  for (const char* s : {"queue_full", "invalid", "unauthorized"}) rejected_[s] = 0;
}

void Metrics::prediction_finished(const std::string& status, double predict_seconds, double queue_seconds) {
  std::lock_guard lk(mu_);
  ++finished_[status];
  if (predict_seconds >= 0) predict_seconds_.observe(predict_seconds);
  if (queue_seconds >= 0) queue_seconds_.observe(queue_seconds);
}

void Metrics::prediction_rejected(const std::string& reason) {
  std::lock_guard lk(mu_);
  ++rejected_[reason];
}

void Metrics::http_response(int code) {
  std::lock_guard lk(mu_);
  ++http_[code];
}

void Metrics::step(double seconds, size_t requests, size_t rows, int tokens) {
  std::lock_guard lk(mu_);
  ++steps_total_;
  tokens_total_ += static_cast<uint64_t>(tokens);
  step_seconds_.observe(seconds);
  batch_size_.observe(static_cast<double>(requests));
  last_batch_ = requests;
  last_rows_ = rows;
  const auto now = Clock::now();
  recent_.emplace_back(now, tokens);
  while (!recent_.empty() && std::chrono::duration<double>(now - recent_.front().first).count() > kWindowSeconds)
    recent_.pop_front();
}

void Metrics::preview(double) {
  std::lock_guard lk(mu_);
  ++previews_total_;
}

std::string Metrics::render(const LiveGauges& g) const {
  std::lock_guard lk(mu_);
  std::string out;
  header(out, "emu35_ready", "gauge", "1 once the weights are loaded.");
  out += "emu35_ready " + std::to_string(g.ready) + "\n";
  header(out, "emu35_predictions_total", "counter", "Predictions finished, by status.");
  for (auto& [k, v] : finished_) out += "emu35_predictions_total{status=\"" + k + "\"} " + std::to_string(v) + "\n";
  header(out, "emu35_predictions_rejected_total", "counter", "Requests refused before queueing, by reason.");
  for (auto& [k, v] : rejected_)
    out += "emu35_predictions_rejected_total{reason=\"" + k + "\"} " + std::to_string(v) + "\n";
  header(out, "emu35_http_responses_total", "counter", "HTTP responses, by status code.");
  for (auto& [k, v] : http_) out += "emu35_http_responses_total{code=\"" + std::to_string(k) + "\"} " + std::to_string(v) + "\n";
  header(out, "emu35_queue_depth", "gauge", "Requests waiting for a batch slot.");
  out += "emu35_queue_depth " + std::to_string(g.queue_depth) + "\n";
  header(out, "emu35_queue_capacity", "gauge", "--max-queue.");
  out += "emu35_queue_capacity " + std::to_string(g.max_queue) + "\n";
  header(out, "emu35_batch_size", "gauge", "Requests being generated now.");
  out += "emu35_batch_size " + std::to_string(g.active) + "\n";
  header(out, "emu35_batch_capacity", "gauge", "--max-batch.");
  out += "emu35_batch_capacity " + std::to_string(g.max_batch) + "\n";
  header(out, "emu35_batch_rows", "gauge", "Forward rows in the last step (a request and its CFG rows).");
  out += "emu35_batch_rows " + std::to_string(last_rows_) + "\n";
  // Tokens of the steps in the window over the time they span (at least 1 s,
  // so one quick step does not read as a huge rate).
  const auto now = Clock::now();
  double tokens = 0, oldest = 0;
  for (auto& [t, n] : recent_) {
    const double age = std::chrono::duration<double>(now - t).count();
    if (age > kWindowSeconds) continue;
    tokens += n;
    oldest = std::max(oldest, age);
  }
  const double rate = tokens / std::max(1.0, oldest);
  header(out, "emu35_tokens_per_second", "gauge", "Tokens generated per second over the last 5 seconds, all requests.");
  out += "emu35_tokens_per_second " + num(rate) + "\n";
  header(out, "emu35_tokens_generated_total", "counter", "Tokens generated.");
  out += "emu35_tokens_generated_total " + std::to_string(tokens_total_) + "\n";
  header(out, "emu35_previews_total", "counter", "Preview pictures decoded for event streams.");
  out += "emu35_previews_total " + std::to_string(previews_total_) + "\n";
  header(out, "emu35_step_seconds", "histogram", "Wall time of one batched generation step.");
  step_seconds_.render(out, "emu35_step_seconds");
  header(out, "emu35_step_batch_size", "histogram", "Requests in each generation step.");
  batch_size_.render(out, "emu35_step_batch_size");
  header(out, "emu35_predict_seconds", "histogram", "Time from start of generation to result.");
  predict_seconds_.render(out, "emu35_predict_seconds");
  header(out, "emu35_queue_seconds", "histogram", "Time spent waiting for a batch slot.");
  queue_seconds_.render(out, "emu35_queue_seconds");
  return out;
}

}  // namespace emu35::app::serve
