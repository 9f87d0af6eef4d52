#include "gen/step_backend.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "gen/rng.h"
#include "gen/sampler.h"
#include "text/special_tokens.h"

namespace emu35 {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

class HostStepBackend final : public StepBackend {
 public:
  explicit HostStepBackend(lm::LmRunner& lm) : lm_(lm) {}
  lm::LmRunner& lm() override { return lm_; }
  void step(std::span<const lm::LmRow> rows, std::span<const SampleTask> tasks, int32_t* next) override {
    const int V = lm_.vocab_size();
    logits_.resize(rows.size() * static_cast<size_t>(V));
    if (!rows.empty()) lm_.forward(rows, logits_.data());
    scratch_.resize(static_cast<size_t>(V));
    for (size_t i = 0; i < tasks.size(); ++i) next[i] = sample_task_on_host(logits_.data(), V, tasks[i], scratch_);
  }

 private:
  lm::LmRunner& lm_;
  std::vector<float> logits_, scratch_;
};
}  // namespace

std::unique_ptr<StepBackend> make_host_step_backend(lm::LmRunner& lm) { return std::make_unique<HostStepBackend>(lm); }

int32_t sample_task_on_host(const float* logits, int V, const SampleTask& t, std::span<float> work) {
  auto row = [&](int r) { return std::span<const float>(logits + static_cast<size_t>(r) * V, static_cast<size_t>(V)); };
  const float u = uniform01(t.seed, 0, t.step);
  try {
    switch (t.plan.kind) {
      case StepPlan::Kind::Forced:
        return t.plan.forced;
      case StepPlan::Kind::Text: {
        auto c = row(t.cond_row);
        std::copy(c.begin(), c.end(), work.begin());
        for (int i = tok::BOV; i < V; ++i) work[i] = kNegInf;
        return sample_token(work.first(V), t.text, u);
      }
      case StepPlan::Kind::Digits: {
        auto c = row(t.cond_row);
        std::fill(work.begin(), work.begin() + V, kNegInf);
        for (int i = t.plan.lo; i <= t.plan.hi && i < V; ++i) work[i] = c[i];
        return sample_token(work.first(V), t.image, u);
      }
      case StepPlan::Kind::Visual: {
        if (t.full_row >= 0)
          cfg_combine3(row(t.cond_row), row(t.uncond_row), row(t.full_row), t.guidance_scale, t.image_cfg_scale,
                       work.first(V));
        else
          cfg_combine(row(t.cond_row), row(t.uncond_row), t.guidance_scale, work.first(V));
        for (int i = 0; i < std::min(V, static_cast<int>(tok::BOV)); ++i) work[i] = kNegInf;
        return sample_token(work.first(V), t.image, u);
      }
    }
  } catch (const std::exception&) {
    return -1;
  }
  return -1;
}

}  // namespace emu35
