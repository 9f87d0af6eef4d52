// Placeholder until the CUDA runner and codec land: a clear error instead of a link failure.
#include "cuda/cuda_backend.h"

#include "common/error.h"

namespace emu35::cuda {

std::unique_ptr<vq::VqCodec> make_cuda_codec(std::shared_ptr<const vq::IbqModel>, int) {
  throw Error("the CUDA vision tokenizer is not implemented yet in this build");
}

}  // namespace emu35::cuda
