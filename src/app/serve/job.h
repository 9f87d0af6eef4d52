// One prediction as the server tracks it: its input, where it is (queued,
// drawing, done), live progress and the finished result. The mutable part
// (JobState) is guarded by the Scheduler's lock; HTTP threads read copies.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/serve/job_input.h"

namespace emu35::app::serve {

enum class JobStatus { Starting, Processing, Succeeded, Failed, Canceled };
const char* job_status_name(JobStatus s);  // Cog's names: starting, processing, ...
inline bool is_terminal(JobStatus s) { return s == JobStatus::Succeeded || s == JobStatus::Failed || s == JobStatus::Canceled; }

using WallTime = std::chrono::system_clock::time_point;

struct JobProgress {
  int queue_position = 0;  // 1-based while queued, 0 once drawing
  int tokens = 0, max_new_tokens = 0;
  bool in_image = false;
  int rows_done = 0, rows_total = 0, images_done = 0;
  double tokens_per_second = 0;
};

// A picture decoded from the rows finished so far.
struct JobPreview {
  std::string data_uri;  // JPEG
  int image_index = 0, rows_done = 0, rows_total = 0, width = 0, height = 0;
};

struct JobResult {
  std::vector<std::string> images;  // encoded pictures (format of the request)
  std::vector<std::pair<int, int>> sizes;  // width, height per picture
  std::string mime;
  nlohmann::json segments = nlohmann::json::array();  // in order: text / global_cot / image_cot / image
  nlohmann::json text = nlohmann::json::array();
  std::string stop_reason;
  int tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0, vq_encode_seconds = 0, vq_decode_seconds = 0;
};

struct JobState {
  JobStatus status = JobStatus::Starting;
  WallTime created_at{};
  std::optional<WallTime> started_at, completed_at;
  JobProgress progress;
  std::shared_ptr<const JobPreview> preview;
  std::shared_ptr<const JobResult> result;
  std::string error;
  std::string logs;
  uint64_t version = 0;  // bumped on every change; waiters compare it
};

struct Job {
  Job(std::string id_, JobInput in) : id(std::move(id_)), input(std::move(in)) {}
  const std::string id;
  const JobInput input;
  const std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  // Guarded by the scheduler's lock.
  JobState state;
  int watchers = 0;  // clients following the event stream (previews only for them)
  std::chrono::steady_clock::time_point started_steady{};
};

}  // namespace emu35::app::serve
