// Placeholder until the CUDA runner and codec land: a clear error instead of a link failure.
#include "cuda/cuda_backend.h"

#include "common/error.h"

namespace emu35::cuda {

CudaBackend make_cuda_backend(std::shared_ptr<const lm::LmWeights>, int, const std::string&) {
  throw Error("the CUDA transformer backend is not implemented yet in this build");
}

}  // namespace emu35::cuda
