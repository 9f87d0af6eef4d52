// Kernel launches with optional programmatic dependent launch (PDL): with
// pdl = true the kernel may be scheduled before the previous kernel on the
// stream finishes (that kernel's blocks call dev::pdl_launch_dependents()),
// so launch latency and the previous kernel's tail overlap with this one's
// start. A kernel launched this way must begin with dev::pdl_wait() before it
// touches data the previous kernel writes. Works inside CUDA graph capture.
#pragma once
#include <cuda_runtime.h>

#include <utility>

#include "cuda/cuda_check.h"

namespace emu35::cuda::lmk {

template <class... KArgs, class... Args>
void launch(bool pdl, void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
            Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl ? 1 : 0;
  EMU35_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

}  // namespace emu35::cuda::lmk
