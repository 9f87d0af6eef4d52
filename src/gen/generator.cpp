#include "gen/generator.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "text/special_tokens.h"

namespace emu35 {

namespace {
using Clock = std::chrono::steady_clock;

void check_ids(const std::vector<int32_t>& ids, int vocab, const char* what) {
  for (int32_t t : ids)
    if (t < 0 || t >= vocab)
      throw Error(std::string(what) + " holds token id " + std::to_string(t) + ", outside the model's vocabulary (0.." +
                  std::to_string(vocab - 1) + ")");
}

void check_sampling(const SamplingParams& p, const char* what) {
  if (p.top_k < 1) throw Error(std::string(what) + " top-k must be at least 1, got " + std::to_string(p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
    throw Error(std::string(what) + " top-p must be in (0, 1], got " + std::to_string(p.top_p));
  if (!(p.temperature > 0.0f) || !std::isfinite(p.temperature))
    throw Error(std::string(what) + " temperature must be positive, got " + std::to_string(p.temperature));
}
}  // namespace

void validate_request(const GenerationRequest& r, int vocab, int64_t max_positions) {
  if (r.prompt_ids.empty()) throw Error("the prompt is empty");
  if (r.uncond_ids.empty()) throw Error("the unconditional prompt is empty");
  check_ids(r.prompt_ids, vocab, "the prompt");
  check_ids(r.uncond_ids, vocab, "the unconditional prompt");
  if (r.image_cfg_scale) {
    if (r.uncond_full_ids.empty()) throw Error("image guidance needs the fully unconditional prompt");
    check_ids(r.uncond_full_ids, vocab, "the fully unconditional prompt");
    if (!(*r.image_cfg_scale >= 0.0f) || !std::isfinite(*r.image_cfg_scale))
      throw Error("image guidance scale must be >= 0");
  }
  if (!(r.guidance_scale >= 0.0f) || !std::isfinite(r.guidance_scale))
    throw Error("guidance scale must be >= 0, got " + std::to_string(r.guidance_scale));
  check_sampling(r.text, "text");
  check_sampling(r.image, "image");
  if (r.max_new_tokens < 1) throw Error("max_new_tokens must be at least 1");
  const int64_t need = static_cast<int64_t>(r.prompt_ids.size()) + r.max_new_tokens;
  if (need > max_positions)
    throw Error("prompt (" + std::to_string(r.prompt_ids.size()) + " tokens) + max_new_tokens (" +
                std::to_string(r.max_new_tokens) + ") = " + std::to_string(need) +
                " exceeds the model's context of " + std::to_string(max_positions) + " tokens");
  const int64_t uneed = static_cast<int64_t>(std::max(r.uncond_ids.size(), r.uncond_full_ids.size())) + r.max_new_tokens + 1;
  if (uneed > max_positions)
    throw Error("unconditional prompt (" + std::to_string(r.uncond_ids.size()) + " tokens) + max_new_tokens exceeds the model's context of " +
                std::to_string(max_positions) + " tokens");
  if (r.target_size && (r.target_size->h < 1 || r.target_size->w < 1)) throw Error("target size must be positive");
}

struct Generator::Active {
  int handle;
  GenerationRequest req;
  ImageGrammar grammar;
  StepCallback on_step;
  std::shared_ptr<std::atomic<bool>> cancel;
  std::vector<int32_t> seq;  // prompt + generated
  size_t prompt_len;
  int cond_slot = -1, uncond_slot = -1, full_slot = -1;
  bool started = false, uncond_started = false;
  StepPlan plan;
  int cond_row = -1, uncond_row = -1, full_row = -1;
  std::vector<int32_t> uncond_feed, full_feed;  // tokens for the unconditional rows this step
  GenerationResult result;
  Clock::time_point t0;

  Active(int h, GenerationRequest r, StepCallback cb, std::shared_ptr<std::atomic<bool>> c)
      : handle(h),
        req(std::move(r)),
        grammar(req.target_size, req.uncond_ids, req.force_same_image_size),
        on_step(std::move(cb)),
        cancel(std::move(c)) {
    seq = req.prompt_ids;
    prompt_len = seq.size();
  }
};

Generator::Generator(lm::LmRunner& lm)
    : own_backend_(make_host_step_backend(lm)), backend_(*own_backend_), lm_(backend_.lm()) {}

Generator::Generator(StepBackend& backend) : backend_(backend), lm_(backend.lm()) {}

Generator::~Generator() {
  for (auto& a : active_) release(*a);
}

void Generator::release(Active& a) {
  for (int* s : {&a.cond_slot, &a.uncond_slot, &a.full_slot})
    if (*s >= 0) {
      lm_.free_slot(*s);
      *s = -1;
    }
}

size_t Generator::active() const { return active_.size(); }

int Generator::submit(GenerationRequest req, StepCallback on_step, std::shared_ptr<std::atomic<bool>> cancel) {
  validate_request(req, lm_.vocab_size(), lm_.config().max_position_embeddings);
  auto a = std::make_unique<Active>(next_handle_++, std::move(req), std::move(on_step), std::move(cancel));
  const int budget = a->req.max_new_tokens;
  try {
    a->cond_slot = lm_.new_slot(static_cast<int>(a->prompt_len) + budget);
    a->uncond_slot = lm_.new_slot(static_cast<int>(a->req.uncond_ids.size()) + budget + 1);
    if (a->req.image_cfg_scale) a->full_slot = lm_.new_slot(static_cast<int>(a->req.uncond_full_ids.size()) + budget + 1);
  } catch (...) {
    release(*a);
    throw;
  }
  int h = a->handle;
  active_.push_back(std::move(a));
  return h;
}

std::vector<std::pair<int, GenerationResult>> Generator::step() {
  std::vector<std::pair<int, GenerationResult>> finished;
  auto finish = [&](size_t idx) {
    Active& a = *active_[idx];
    release(a);
    finished.emplace_back(a.handle, std::move(a.result));
    active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(idx));
  };
  // Cancelled requests leave before the step.
  for (size_t i = active_.size(); i-- > 0;)
    if (active_[i]->cancel && active_[i]->cancel->load()) {
      active_[i]->result.stop_reason = "canceled";
      finish(i);
    }
  if (active_.empty()) return finished;

  // Plan every request's next token and gather the rows of this step.
  std::vector<lm::LmRow> rows;
  for (size_t i = 0; i < active_.size(); ++i) {
    Active& a = *active_[i];
    a.cond_row = a.uncond_row = a.full_row = -1;
    try {
      a.plan = a.grammar.next(a.seq);
    } catch (const std::exception& e) {
      a.result.stop_reason = "error";
      a.result.error = e.what();
      continue;
    }
    if (!a.started) a.t0 = Clock::now();
    a.cond_row = static_cast<int>(rows.size());
    if (!a.started) rows.push_back({a.cond_slot, a.seq});
    else rows.push_back({a.cond_slot, std::span<const int32_t>(&a.seq.back(), 1)});
    if (a.plan.feed_uncond) {
      // The first unconditional forward prefills its prompt plus the last token.
      a.uncond_feed.clear();
      a.full_feed.clear();
      if (!a.uncond_started) {
        a.uncond_feed = a.req.uncond_ids;
        if (a.req.image_cfg_scale) a.full_feed = a.req.uncond_full_ids;
      }
      a.uncond_feed.push_back(a.seq.back());
      a.uncond_row = static_cast<int>(rows.size());
      rows.push_back({a.uncond_slot, a.uncond_feed});
      if (a.req.image_cfg_scale) {
        a.full_feed.push_back(a.seq.back());
        a.full_row = static_cast<int>(rows.size());
        rows.push_back({a.full_slot, a.full_feed});
      }
    }
  }
  rows_last_step_ = rows.size();

  // One forward for everything, then each request's token (on the backend's device).
  std::vector<SampleTask> tasks;
  std::vector<size_t> task_of(active_.size(), SIZE_MAX);
  for (size_t i = 0; i < active_.size(); ++i) {
    Active& a = *active_[i];
    if (a.cond_row < 0) continue;
    SampleTask t;
    t.plan = a.plan;
    t.cond_row = a.cond_row;
    t.uncond_row = a.uncond_row;
    t.full_row = a.full_row;
    t.guidance_scale = a.req.guidance_scale;
    t.image_cfg_scale = a.req.image_cfg_scale.value_or(0.0f);
    t.text = a.req.text;
    t.image = a.req.image;
    t.seed = a.req.seed;
    t.step = a.seq.size() - a.prompt_len;
    task_of[i] = tasks.size();
    tasks.push_back(t);
  }
  std::vector<int32_t> next_ids(tasks.size(), -1);
  backend_.step(rows, tasks, next_ids.data());

  for (size_t i = active_.size(); i-- > 0;) {
    Active& a = *active_[i];
    if (a.cond_row < 0) {  // planning failed
      finish(i);
      continue;
    }
    const int32_t next = next_ids[task_of[i]];
    if (next < 0) {
      a.result.stop_reason = "error";
      a.result.error = "sampling failed: no token left after masking";
      finish(i);
      continue;
    }
    if (a.uncond_row >= 0) a.uncond_started = true;
    const auto now = Clock::now();
    if (!a.started) {
      a.result.prefill_seconds = std::chrono::duration<double>(now - a.t0).count();
      a.started = true;
      a.t0 = now;
    } else {
      a.result.decode_seconds = std::chrono::duration<double>(now - a.t0).count();
    }
    a.seq.push_back(next);
    a.result.generated_ids.push_back(next);
    if (a.on_step) {
      StepEvent ev;
      ev.generated = static_cast<int>(a.result.generated_ids.size());
      ev.token = next;
      ev.image = a.grammar.progress();
      a.on_step(ev);
    }
    if (next == tok::EOS) {
      a.result.stop_reason = "eos";
      finish(i);
    } else if (static_cast<int>(a.result.generated_ids.size()) >= a.req.max_new_tokens) {
      a.result.stop_reason = "max_new_tokens";
      finish(i);
    }
  }
  return finished;
}

std::vector<GenerationResult> Generator::run(std::vector<GenerationRequest> reqs,
                                             std::function<void(size_t, const StepEvent&)> on_step) {
  std::vector<int> handles;
  for (size_t i = 0; i < reqs.size(); ++i) {
    StepCallback cb;
    if (on_step) cb = [on_step, i](const StepEvent& e) { on_step(i, e); };
    handles.push_back(submit(std::move(reqs[i]), cb));
  }
  std::vector<GenerationResult> out(reqs.size());
  while (active() > 0)
    for (auto& [h, r] : step())
      for (size_t i = 0; i < handles.size(); ++i)
        if (handles[i] == h) out[i] = std::move(r);
  return out;
}

}  // namespace emu35
