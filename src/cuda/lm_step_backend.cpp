#include "cuda/lm_step_backend.h"

#include "cuda/lm_device_memory.h"
#include "cuda/sampling_device.h"

namespace emu35::cuda {

namespace {

class CudaStepBackend final : public StepBackend {
 public:
  explicit CudaStepBackend(CudaRunner& runner) : runner_(runner), sampler_(make_sampler(runner)) {}
  lm::LmRunner& lm() override { return runner_; }

  void step(std::span<const lm::LmRow> rows, std::span<const SampleTask> tasks, int32_t* next) override {
    CurrentDevice dev(runner_.device());
    const float* logits = runner_.forward_device(rows);  // throws on a bad batch before any work
    sampler_->sample(logits, static_cast<int>(rows.size()), runner_.logits_stride(), tasks, next, runner_.stream());
  }

 private:
  static std::unique_ptr<DeviceSampler> make_sampler(CudaRunner& r) {
    CurrentDevice dev(r.device());
    return std::make_unique<DeviceSampler>(r.vocab_size());
  }
  CudaRunner& runner_;
  std::unique_ptr<DeviceSampler> sampler_;
};

}  // namespace

std::unique_ptr<StepBackend> make_cuda_step_backend(CudaRunner& runner) {
  return std::make_unique<CudaStepBackend>(runner);
}

}  // namespace emu35::cuda
