// The generation loop over a batch of requests. Every step runs ONE forward for
// all active requests: each request's conditional row, plus its unconditional
// row(s) while it is drawing a picture. Requests can be submitted between steps
// (continuous batching) and each keeps its own state machine, streams and seed.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gen/image_grammar.h"
#include "gen/step_backend.h"
#include "gen/task.h"
#include "lm/runner.h"

namespace emu35 {

struct GenerationRequest {
  std::vector<int32_t> prompt_ids;       // conditional prompt (BOS first)
  std::vector<int32_t> uncond_ids;       // unconditional prompt ("no_text": keeps reference images)
  std::vector<int32_t> uncond_full_ids;  // fully unconditional prompt; used only with image_cfg_scale
  float guidance_scale = 3.0f;
  std::optional<float> image_cfg_scale;  // three-stream CFG when set
  SamplingParams text{1024, 0.9f, 1.0f};
  SamplingParams image{5120, 1.0f, 1.0f};
  int max_new_tokens = 5120;
  std::optional<TokenSize> target_size;
  bool force_same_image_size = true;
  uint64_t seed = 0;
};

struct StepEvent {
  int generated = 0;  // tokens generated so far (including this one)
  int32_t token = -1;
  ImageProgress image;
};

struct GenerationResult {
  std::vector<int32_t> generated_ids;
  std::string stop_reason;  // "eos", "max_new_tokens", "canceled", "error"
  std::string error;        // when stop_reason == "error"
  double prefill_seconds = 0;  // the first step (prompt prefill)
  double decode_seconds = 0;   // the remaining steps
};

// Checks a request before it costs anything: ids in range, prompt + budget within
// the model's context, guidance and sampling values sane. Throws Error.
void validate_request(const GenerationRequest& r, int vocab_size, int64_t max_positions);

class Generator {
 public:
  // Host sampling over lm.forward()'s logits.
  explicit Generator(lm::LmRunner& lm);
  // A backend that may sample on its device.
  explicit Generator(StepBackend& backend);
  ~Generator();

  using StepCallback = std::function<void(const StepEvent&)>;
  // Returns a handle. `cancel`, when given and set, ends the request at the next step.
  int submit(GenerationRequest req, StepCallback on_step = {}, std::shared_ptr<std::atomic<bool>> cancel = nullptr);

  // One batched forward for every active request; returns the requests that
  // finished in this step. A request whose processing throws finishes with
  // stop_reason "error" without disturbing the others.
  std::vector<std::pair<int, GenerationResult>> step();

  size_t active() const;
  size_t rows_last_step() const { return rows_last_step_; }

  // Convenience: submits all and steps until done; results in input order.
  std::vector<GenerationResult> run(std::vector<GenerationRequest> reqs, std::function<void(size_t, const StepEvent&)> on_step = {});

 private:
  struct Active;
  void release(Active& a);
  std::unique_ptr<StepBackend> own_backend_;
  StepBackend& backend_;
  lm::LmRunner& lm_;
  std::vector<std::unique_ptr<Active>> active_;
  int next_handle_ = 0;
  size_t rows_last_step_ = 0;
};

}  // namespace emu35
