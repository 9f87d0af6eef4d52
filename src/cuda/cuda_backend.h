// Entry points of the CUDA backend used by the Engine: the transformer runner
// with on-device logits processing, and the IBQ vision tokenizer on the GPU.
#pragma once
#include <memory>
#include <string>

#include "gen/step_backend.h"
#include "lm/lm_weights.h"
#include "lm/runner.h"
#include "vq/ibq_model.h"
#include "vq/vq_codec.h"

namespace emu35::cuda {

struct CudaBackend {
  std::unique_ptr<lm::LmRunner> runner;  // also reachable as step->lm()
  std::unique_ptr<StepBackend> step;     // forward + sampling on the GPU
};

// precision: "bf16" (weights as stored) or "fp32" (weights widened; for checks
// against the CPU backend on small models). Throws Error when the GPU lacks
// the memory, saying how much is needed.
CudaBackend make_cuda_backend(std::shared_ptr<const lm::LmWeights> weights, int device, const std::string& precision);

// The encoder is exact float32 (codes equal the CPU's); the decoder's
// convolutions run in TF32 when tf32_decoder (the Engine's bf16 precision).
std::unique_ptr<vq::VqCodec> make_cuda_codec(std::shared_ptr<const vq::IbqModel> model, int device,
                                             bool tf32_decoder = false);

}  // namespace emu35::cuda
