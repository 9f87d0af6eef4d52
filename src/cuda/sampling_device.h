// Turns a step's logits, already on the GPU, into each request's next token
// with the host sampler's semantics (sampling_kernels.h). Forced steps never
// touch the GPU; the uniform numbers come from the host's Philox stream
// (gen/rng.h), so CPU and GPU backends draw with identical numbers. Only the
// sampled ids are copied back.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "gen/step_backend.h"

namespace emu35::cuda {

class DeviceSampler {
 public:
  explicit DeviceSampler(int vocab);  // on the current device
  ~DeviceSampler();
  DeviceSampler(const DeviceSampler&) = delete;
  DeviceSampler& operator=(const DeviceSampler&) = delete;

  // What the GPU computed for one task, for tests: the row after masks, CFG
  // and temperature, and which ids survived top-k / top-p (empty for tasks
  // the GPU did not see: forced steps, bad rows).
  struct Trace {
    std::vector<float> row;
    std::vector<uint8_t> kept;
  };

  // logits: [rows][ld] float32 on the device (queued work on `stream` that
  // produces them is fine). next[i] = tasks[i]'s token, -1 when nothing can be
  // sampled or the task names a row outside [0, rows).
  void sample(const float* logits, int rows, int64_t ld, std::span<const SampleTask> tasks, int32_t* next,
              cudaStream_t stream, std::vector<Trace>* trace = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emu35::cuda
