// What one generation step asks of a backend: run the forward over all rows,
// then turn each request's logits into its next token (masks, CFG, temperature,
// top-k, top-p, seeded draw). The host version below does the second half on
// the CPU from host logits; a GPU backend does both on the device so only the
// sampled ids cross to the host.
#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "gen/image_grammar.h"
#include "gen/task.h"
#include "lm/runner.h"

namespace emu35 {

// One request's token choice this step.
struct SampleTask {
  StepPlan plan;
  int cond_row = -1, uncond_row = -1, full_row = -1;  // rows of this step's forward
  float guidance_scale = 1.0f;
  float image_cfg_scale = 0.0f;  // used when full_row >= 0
  SamplingParams text, image;
  uint64_t seed = 0;
  uint64_t step = 0;  // tokens generated so far: the RNG counter
};

class StepBackend {
 public:
  virtual ~StepBackend() = default;
  virtual lm::LmRunner& lm() = 0;
  // next[i] = the token for tasks[i]. Throws on a failed forward; a task that
  // cannot be sampled (everything masked) yields -1.
  virtual void step(std::span<const lm::LmRow> rows, std::span<const SampleTask> tasks, int32_t* next) = 0;
};

// forward() into host memory + CPU sampling.
std::unique_ptr<StepBackend> make_host_step_backend(lm::LmRunner& lm);

// The CPU sampling of one task from host logits (row-major [rows, vocab]).
// Returns -1 when nothing can be sampled.
int32_t sample_task_on_host(const float* logits, int vocab, const SampleTask& t, std::span<float> scratch);

}  // namespace emu35
