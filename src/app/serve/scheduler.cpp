#include "app/serve/scheduler.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <random>

#include "app/serve/base64.h"
#include "app/serve/input_error.h"
#include "app/serve/preview.h"
#include "image/image_write.h"
#include "text/special_tokens.h"
#include "vq/vq_codec.h"

namespace emu35::app::serve {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

const char* mime_of(ImageFormat f) {
  switch (f) {
    case ImageFormat::PNG: return "image/png";
    case ImageFormat::JPEG: return "image/jpeg";
    case ImageFormat::WEBP: return "image/webp";
  }
  return "application/octet-stream";
}
}  // namespace

const char* job_status_name(JobStatus s) {
  switch (s) {
    case JobStatus::Starting: return "starting";
    case JobStatus::Processing: return "processing";
    case JobStatus::Succeeded: return "succeeded";
    case JobStatus::Failed: return "failed";
    case JobStatus::Canceled: return "canceled";
  }
  return "unknown";
}

// A request in the running batch, as only the scheduler thread sees it.
struct Scheduler::Live {
  std::shared_ptr<Job> job;
  PreparedRequest prepared;
  std::vector<int32_t> answer;  // generated ids (after the prompt's <|image start|>, if any)
  StepEvent last;
  bool changed = false;
  int new_tokens = 0;
  int preview_image = -1, preview_rows = 0;
  Clock::time_point preview_at{};
};

Scheduler::Scheduler(const ServeOptions& opt) : opt_(opt) { setup_.started_at = std::chrono::system_clock::now(); }

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() { thread_ = std::thread([this] { run(); }); }

void Scheduler::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::request_stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    for (auto& j : queue_) {
      j->cancel->store(true);
      finish_locked(*j, JobStatus::Canceled, "the server is shutting down", nullptr);
    }
    queue_.clear();
    for (auto& [id, j] : jobs_) j->cancel->store(true);
  }
  work_.notify_all();
  changed_.notify_all();
}

bool Scheduler::stopping() const {
  std::lock_guard lk(mu_);
  return stopping_;
}

SetupState Scheduler::setup() const {
  std::lock_guard lk(mu_);
  return setup_;
}

const Tokenizer* Scheduler::tokenizer() const {
  std::lock_guard lk(mu_);
  return setup_.readiness == Readiness::Ready ? &engine_->tokenizer() : nullptr;
}

LiveGauges Scheduler::gauges() const {
  std::lock_guard lk(mu_);
  LiveGauges g;
  g.ready = setup_.readiness == Readiness::Ready;
  g.queue_depth = queue_.size();
  g.active = active_;
  g.max_batch = static_cast<size_t>(opt_.max_batch);
  g.max_queue = static_cast<size_t>(opt_.max_queue);
  return g;
}

std::string Scheduler::new_id_locked() {
  // 26 lower-case letters, like Cog's ids; unpredictable so ids are not guessable.
  static thread_local std::mt19937_64 rng{std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32)};
  for (;;) {
    std::string id;
    for (int i = 0; i < 26; ++i) id += static_cast<char>('a' + rng() % 26);
    if (!jobs_.count(id)) return id;
  }
}

void Scheduler::log_locked(Job& job, const std::string& line) {
  char ts[32];
  const double t = std::chrono::duration<double>(std::chrono::system_clock::now() - job.state.created_at).count();
  std::snprintf(ts, sizeof ts, "[%7.3fs] ", t);
  job.state.logs += ts + line + "\n";
}

std::shared_ptr<Job> Scheduler::enqueue_locked(const std::string& id, JobInput input) {
  auto job = std::make_shared<Job>(id, std::move(input));
  job->state.created_at = std::chrono::system_clock::now();
  jobs_[id] = job;
  queue_.push_back(job);
  log_locked(*job, "queued; seed " + std::to_string(*job->input.request.seed));
  return job;
}

size_t Scheduler::capacity_locked() const {
  // Free batch slots take new requests at the next step; --max-queue more may wait.
  const size_t free_slots = active_ < static_cast<size_t>(opt_.max_batch) ? opt_.max_batch - active_ : 0;
  return static_cast<size_t>(opt_.max_queue) + free_slots;
}

std::vector<std::shared_ptr<Job>> Scheduler::submit(std::vector<JobInput> inputs) {
  std::vector<std::shared_ptr<Job>> out;
  {
    std::lock_guard lk(mu_);
    if (stopping_) throw InputError(503, "", "the server is shutting down");
    if (setup_.readiness == Readiness::Failed) throw InputError(503, "", "the model failed to load: " + setup_.error);
    if (queue_.size() + inputs.size() > capacity_locked()) {
      metrics_.prediction_rejected("queue_full");
      throw InputError(429, "", "the queue is full (" + std::to_string(queue_.size()) + " waiting, --max-queue " +
                                    std::to_string(opt_.max_queue) + "): retry later");
    }
    for (auto& in : inputs) out.push_back(enqueue_locked(new_id_locked(), std::move(in)));
    renumber_queue_locked();
  }
  work_.notify_all();
  return out;
}

std::pair<std::shared_ptr<Job>, bool> Scheduler::submit_with_id(const std::string& id, JobInput input) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lk(mu_);
    if (auto it = jobs_.find(id); it != jobs_.end()) return {it->second, false};
    if (stopping_) throw InputError(503, "", "the server is shutting down");
    if (setup_.readiness == Readiness::Failed) throw InputError(503, "", "the model failed to load: " + setup_.error);
    if (queue_.size() + 1 > capacity_locked()) {
      metrics_.prediction_rejected("queue_full");
      throw InputError(429, "", "the queue is full (--max-queue " + std::to_string(opt_.max_queue) + "): retry later");
    }
    job = enqueue_locked(id, std::move(input));
    renumber_queue_locked();
  }
  work_.notify_all();
  return {job, true};
}

std::shared_ptr<Job> Scheduler::find(const std::string& id) const {
  std::lock_guard lk(mu_);
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second;
}

bool Scheduler::cancel(const std::string& id) {
  {
    std::lock_guard lk(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return false;
    Job& job = *it->second;
    if (is_terminal(job.state.status)) return true;
    job.cancel->store(true);
    auto q = std::find(queue_.begin(), queue_.end(), it->second);
    if (q != queue_.end()) {
      queue_.erase(q);
      finish_locked(job, JobStatus::Canceled, "", nullptr);
      renumber_queue_locked();
    } else {
      log_locked(job, "cancel requested");
    }
  }
  work_.notify_all();
  changed_.notify_all();
  return true;
}

JobState Scheduler::snapshot(const Job& job) const {
  std::lock_guard lk(mu_);
  return job.state;
}

JobState Scheduler::wait(const Job& job, uint64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  changed_.wait_for(lk, timeout,
                    [&] { return stopping_ || job.state.version > after || is_terminal(job.state.status); });
  return job.state;
}

void Scheduler::add_watcher(Job& job, int delta) {
  std::lock_guard lk(mu_);
  job.watchers += delta;
}

void Scheduler::renumber_queue_locked() {
  int pos = 1;
  for (auto& j : queue_) {
    if (j->state.progress.queue_position != pos) {
      j->state.progress.queue_position = pos;
      ++j->state.version;
    }
    ++pos;
  }
  changed_.notify_all();
}

void Scheduler::finish_locked(Job& job, JobStatus status, const std::string& error,
                              std::shared_ptr<const JobResult> result) {
  if (is_terminal(job.state.status)) return;
  const auto now = std::chrono::system_clock::now();
  const double queue_s = std::chrono::duration<double>((job.state.started_at ? *job.state.started_at : now) -
                                                       job.state.created_at).count();
  const double predict_s =
      job.state.started_at ? std::chrono::duration<double>(now - *job.state.started_at).count() : -1.0;
  job.state.status = status;
  job.state.completed_at = now;
  job.state.error = error;
  job.state.result = std::move(result);
  job.state.progress.queue_position = 0;
  log_locked(job, std::string(job_status_name(status)) + (error.empty() ? "" : ": " + error));
  ++job.state.version;
  metrics_.prediction_finished(job_status_name(status), predict_s, queue_s);
  finished_order_.push_back(job.id);
  while (finished_order_.size() > static_cast<size_t>(std::max(1, opt_.keep_predictions))) {
    auto it = jobs_.find(finished_order_.front());
    if (it != jobs_.end() && is_terminal(it->second->state.status)) jobs_.erase(it);
    finished_order_.pop_front();
  }
  changed_.notify_all();
}

void Scheduler::load_engine() {
  for (int waited = 0; waited < opt_.startup_delay_ms; waited += 10) {
    if (stopping()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::unique_ptr<Engine> engine;
  std::string error;
  try {
    EngineOptions eo;
    eo.model_dir = opt_.model;
    eo.vq_dir = opt_.vq;
    eo.tokenizer_dir = opt_.tokenizer;
    eo.device = opt_.device;
    eo.threads = opt_.threads;
    eo.precision = opt_.precision;
    engine = Engine::open(eo);
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::lock_guard lk(mu_);
  setup_.completed_at = std::chrono::system_clock::now();
  if (engine) {
    engine_ = std::move(engine);
    setup_.readiness = Readiness::Ready;
    std::cerr << "emu35 serve: model loaded, ready\n";
  } else {
    setup_.readiness = Readiness::Failed;
    setup_.error = error;
    std::cerr << "emu35 serve: the model failed to load: " << error << "\n";
    for (auto& j : queue_) finish_locked(*j, JobStatus::Failed, "the model failed to load: " + error, nullptr);
    queue_.clear();
  }
  changed_.notify_all();
}

void Scheduler::run() {
  load_engine();
  {
    std::lock_guard lk(mu_);
    if (setup_.readiness != Readiness::Ready) return;
  }
  Generator gen(engine_->backend());
  std::map<int, std::unique_ptr<Live>> live;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      work_.wait(lk, [&] { return stopping_ || !queue_.empty() || gen.active() > 0; });
      if (stopping_) break;
    }
    admit(gen, live);
    if (gen.active() == 0) continue;

    const auto t0 = Clock::now();
    const size_t requests = gen.active();
    std::vector<std::pair<int, GenerationResult>> done;
    try {
      done = gen.step();
    } catch (const std::exception& e) {
      // A failure of the whole step (not of one request): fail the batch, keep serving.
      std::cerr << "emu35 serve: generation step failed: " << e.what() << "\n";
      for (auto& [h, l] : live) l->job->cancel->store(true);
      done = gen.step();
      for (auto& [h, res] : done) {
        res.stop_reason = "error";
        res.error = std::string("generation step failed: ") + e.what();
      }
    }
    int tokens = 0;
    for (auto& [h, l] : live) tokens += std::exchange(l->new_tokens, 0);
    metrics_.step(since(t0), requests, gen.rows_last_step(), tokens);

    publish_progress(live);
    make_previews(live);
    for (auto& [h, res] : done) {
      auto it = live.find(h);
      if (it == live.end()) continue;
      complete(*it->second, std::move(res));
      live.erase(it);
      std::lock_guard lk(mu_);
      --active_;
    }
  }
  // Shutting down: whatever is still running ends as canceled.
  std::lock_guard lk(mu_);
  for (auto& [h, l] : live) finish_locked(*l->job, JobStatus::Canceled, "the server is shutting down", nullptr);
  active_ = 0;
}

void Scheduler::admit(Generator& gen, std::map<int, std::unique_ptr<Live>>& live) {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::lock_guard lk(mu_);
      if (stopping_ || queue_.empty() || live.size() >= static_cast<size_t>(opt_.max_batch)) return;
      job = queue_.front();
      queue_.pop_front();
      ++active_;
      job->state.status = JobStatus::Processing;
      job->state.started_at = std::chrono::system_clock::now();
      job->started_steady = Clock::now();
      job->state.progress.queue_position = 0;
      log_locked(*job, "started (batch of " + std::to_string(live.size() + 1) + ")");
      ++job->state.version;
      renumber_queue_locked();
    }
    auto l = std::make_unique<Live>();
    l->job = job;
    try {
      l->prepared = engine_->prepare(job->input.request);
      if (!l->prepared.gen.prompt_ids.empty() && l->prepared.gen.prompt_ids.back() == tok::BOI)
        l->answer.push_back(tok::BOI);
      Live* lp = l.get();
      const int handle = gen.submit(l->prepared.gen,
                                    [lp](const StepEvent& e) {
                                      lp->answer.push_back(e.token);
                                      lp->last = e;
                                      lp->changed = true;
                                      ++lp->new_tokens;
                                    },
                                    job->cancel);
      {
        std::lock_guard lk(mu_);
        job->state.progress.max_new_tokens = l->prepared.gen.max_new_tokens;
        log_locked(*job, "prompt " + std::to_string(l->prepared.gen.prompt_ids.size()) + " tokens, " +
                             std::to_string(l->prepared.reference_codes.size()) + " reference picture(s)");
        ++job->state.version;
      }
      live[handle] = std::move(l);
    } catch (const std::exception& e) {
      std::lock_guard lk(mu_);
      --active_;
      if (job->cancel->load()) finish_locked(*job, JobStatus::Canceled, "", nullptr);
      else finish_locked(*job, JobStatus::Failed, e.what(), nullptr);
    }
  }
}

void Scheduler::publish_progress(std::map<int, std::unique_ptr<Live>>& live) {
  std::lock_guard lk(mu_);
  bool any = false;
  for (auto& [h, l] : live) {
    if (!l->changed) continue;
    l->changed = false;
    any = true;
    JobProgress& p = l->job->state.progress;
    p.tokens = l->last.generated;
    p.in_image = l->last.image.in_image;
    p.rows_done = l->last.image.rows_done;
    p.rows_total = l->last.image.rows_total;
    p.images_done = l->last.image.images_done;
    const double s = since(l->job->started_steady);
    p.tokens_per_second = s > 0 ? p.tokens / s : 0;
    ++l->job->state.version;
  }
  if (any) changed_.notify_all();
}

void Scheduler::make_previews(std::map<int, std::unique_ptr<Live>>& live) {
  for (auto& [h, l] : live) {
    const ImageProgress& ip = l->last.image;
    if (!ip.in_image || ip.rows_done < 1) continue;
    {
      std::lock_guard lk(mu_);
      if (l->job->watchers <= 0) continue;
    }
    if (l->preview_image != ip.images_done) {  // a new picture
      l->preview_image = ip.images_done;
      l->preview_rows = 0;
    }
    const bool due_rows = ip.rows_done - l->preview_rows >= std::max(1, opt_.preview_rows) ||
                          (ip.rows_done == ip.rows_total && ip.rows_done > l->preview_rows);
    const bool due_time = l->preview_at == Clock::time_point{} ||
                          since(l->preview_at) * 1000.0 >= opt_.preview_interval_ms;
    if (!due_rows || !due_time) continue;
    auto grid = partial_picture(l->answer);
    if (!grid) continue;
    const auto t0 = Clock::now();
    auto pv = std::make_shared<JobPreview>();
    try {
      Image img = engine_->vq().decode(*grid);
      pv->data_uri = make_data_uri("image/jpeg", encode_jpeg(img, 80));
      pv->width = img.width;
      pv->height = img.height;
    } catch (const std::exception& e) {
      std::cerr << "emu35 serve: preview failed: " << e.what() << "\n";
      continue;
    }
    metrics_.preview(since(t0));
    pv->image_index = ip.images_done;
    pv->rows_done = grid->h;
    pv->rows_total = ip.rows_total;
    l->preview_rows = ip.rows_done;
    l->preview_at = Clock::now();
    std::lock_guard lk(mu_);
    l->job->state.preview = std::move(pv);
    ++l->job->state.version;
    changed_.notify_all();
  }
}

void Scheduler::complete(Live& l, GenerationResult res) {
  Job& job = *l.job;
  if (res.stop_reason == "canceled") {
    std::lock_guard lk(mu_);
    finish_locked(job, JobStatus::Canceled, "", nullptr);
    return;
  }
  auto result = std::make_shared<JobResult>();
  JobStatus status = JobStatus::Succeeded;
  std::string error;
  try {
    Output o = engine_->finish(std::move(l.prepared), std::move(res));
    result->mime = mime_of(job.input.format);
    result->stop_reason = o.result.stop_reason;
    result->tokens = static_cast<int>(o.result.generated_ids.size());
    result->prefill_seconds = o.result.prefill_seconds;
    result->decode_seconds = o.result.decode_seconds;
    result->vq_encode_seconds = o.request.vq_encode_seconds;
    result->vq_decode_seconds = o.vq_decode_seconds;
    size_t img = 0;
    for (const Segment& s : o.segments) {
      nlohmann::json seg = {{"type", segment_kind_name(s.kind)}};
      if (s.kind == Segment::Kind::Image) {
        const Image& pic = o.images.at(img);
        result->images.push_back(encode_image(pic, job.input.format, job.input.quality));
        result->sizes.emplace_back(pic.width, pic.height);
        seg["index"] = img++;
        seg["width"] = pic.width;
        seg["height"] = pic.height;
      } else {
        seg["text"] = s.text;
        if (s.kind == Segment::Kind::Text) result->text.push_back(s.text);
      }
      result->segments.push_back(std::move(seg));
    }
    if (o.result.stop_reason == "error") {
      status = JobStatus::Failed;
      error = "generation failed: " + o.result.error;
    } else if (job.input.require_image && o.images.empty()) {
      status = JobStatus::Failed;
      error = "no picture was produced (generation stopped by " + o.result.stop_reason + " after " +
              std::to_string(result->tokens) + " tokens" +
              (o.result.stop_reason == "max_new_tokens" ? "; a larger max_new_tokens may help)" : ")");
    }
  } catch (const std::exception& e) {
    status = JobStatus::Failed;
    error = std::string("finishing the result failed: ") + e.what();
  }
  std::lock_guard lk(mu_);
  log_locked(job, std::to_string(result->tokens) + " tokens (" + result->stop_reason + "), " +
                      std::to_string(result->images.size()) + " picture(s)");
  finish_locked(job, status, error, std::move(result));
}

}  // namespace emu35::app::serve
