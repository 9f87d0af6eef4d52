// The generation step on the GPU: one CudaRunner forward over all rows, then
// every task's token sampled on the device (DeviceSampler); only the ids
// cross to the host.
#pragma once
#include <memory>

#include "cuda/lm_cuda_runner.h"
#include "gen/step_backend.h"

namespace emu35::cuda {

// The backend drives `runner`, which must outlive it.
std::unique_ptr<StepBackend> make_cuda_step_backend(CudaRunner& runner);

}  // namespace emu35::cuda
