// The one thread that owns the model. It loads the weights (the server is
// already listening: /health-check says STARTING), then loops: admit queued
// requests into the running batch at step boundaries (up to --max-batch, each
// with its CFG rows), run one batched step, publish progress and previews,
// finish what completed. HTTP threads only queue, cancel, read and wait.
#pragma once
#include <emu35/emu35.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "app/serve/job.h"
#include "app/serve/metrics.h"
#include "app/serve/serve_options.h"

namespace emu35::app::serve {

enum class Readiness { Starting, Ready, Failed };

struct SetupState {
  Readiness readiness = Readiness::Starting;
  WallTime started_at{};
  std::optional<WallTime> completed_at;
  std::string error;
};

class Scheduler {
 public:
  explicit Scheduler(const ServeOptions& opt);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();  // the scheduler thread: load, then serve
  void request_stop();  // cancels everything, wakes every waiter; returns at once
  void stop();          // request_stop() and join (idempotent)

  SetupState setup() const;
  // The loaded tokenizer (thread-safe), or nullptr while starting.
  const Tokenizer* tokenizer() const;

  // Queues all or none. Throws InputError 429 when the queue cannot take them
  // and 503 when the model failed to load or the server is stopping.
  std::vector<std::shared_ptr<Job>> submit(std::vector<JobInput> inputs);
  // Idempotent create (PUT /predictions/{id}): the existing job when the id is
  // taken (second = false), else a new one.
  std::pair<std::shared_ptr<Job>, bool> submit_with_id(const std::string& id, JobInput input);

  std::shared_ptr<Job> find(const std::string& id) const;
  // Queued: leaves the queue now. Running: leaves the batch at the next step
  // boundary, freeing its KV-cache slots. False for an unknown id.
  bool cancel(const std::string& id);

  JobState snapshot(const Job& job) const;
  // Returns as soon as the job's version passes `after`, it is finished, the
  // server stops, or `timeout` passes.
  JobState wait(const Job& job, uint64_t after, std::chrono::milliseconds timeout) const;
  void add_watcher(Job& job, int delta);

  bool stopping() const;
  Metrics& metrics() { return metrics_; }
  LiveGauges gauges() const;

 private:
  struct Live;
  void run();
  void load_engine();
  void admit(Generator& gen, std::map<int, std::unique_ptr<Live>>& live);
  void publish_progress(std::map<int, std::unique_ptr<Live>>& live);
  void make_previews(std::map<int, std::unique_ptr<Live>>& live);
  void complete(Live& l, GenerationResult res);
  // With mu_ held:
  void finish_locked(Job& job, JobStatus status, const std::string& error, std::shared_ptr<const JobResult> result);
  void renumber_queue_locked();
  size_t capacity_locked() const;  // how many may be queued now
  void log_locked(Job& job, const std::string& line);
  std::string new_id_locked();
  std::shared_ptr<Job> enqueue_locked(const std::string& id, JobInput input);

  ServeOptions opt_;
  Metrics metrics_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // any job changed (HTTP waiters)
  std::condition_variable work_;             // the scheduler thread has work
  std::thread thread_;
  bool stopping_ = false;
  SetupState setup_;
  std::unique_ptr<Engine> engine_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::deque<std::string> finished_order_;  // for forgetting old predictions
  size_t active_ = 0;
  uint64_t id_counter_ = 0;
};

}  // namespace emu35::app::serve
