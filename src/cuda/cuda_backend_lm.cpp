// make_cuda_backend: the Engine's entry to the GPU transformer.
#include "cuda/cuda_backend.h"
#include "cuda/lm_cuda_runner.h"
#include "cuda/lm_step_backend.h"

namespace emu35::cuda {

CudaBackend make_cuda_backend(std::shared_ptr<const lm::LmWeights> weights, int device, const std::string& precision) {
  CudaRunnerOptions opts;
  opts.device = device;
  opts.precision = parse_precision(precision);
  auto runner = std::make_unique<CudaRunner>(std::move(weights), opts);
  CudaBackend b;
  b.step = make_cuda_step_backend(*runner);  // the runner lives on in b.runner: the object does not move
  b.runner = std::move(runner);
  return b;
}

}  // namespace emu35::cuda
