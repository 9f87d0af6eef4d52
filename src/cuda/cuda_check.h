// Error checks for CUDA, cuBLASLt and cuDNN calls: failures become emu35::Error
// naming the call, so a GPU problem is a message, not a crash.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "common/error.h"

namespace emu35::cuda {

[[noreturn]] inline void fail(const char* what, const std::string& detail, const char* file, int line) {
  throw Error(std::string("CUDA: ") + what + " failed: " + detail + " (" + file + ":" + std::to_string(line) + ")");
}

}  // namespace emu35::cuda

#define EMU35_CUDA_CHECK(call)                                                              \
  do {                                                                                      \
    cudaError_t e_ = (call);                                                                \
    if (e_ != cudaSuccess) ::emu35::cuda::fail(#call, cudaGetErrorString(e_), __FILE__, __LINE__); \
  } while (0)

#define EMU35_CUBLAS_CHECK(call)                                                                        \
  do {                                                                                                  \
    cublasStatus_t s_ = (call);                                                                         \
    if (s_ != CUBLAS_STATUS_SUCCESS) ::emu35::cuda::fail(#call, cublasLtGetStatusString(s_), __FILE__, __LINE__); \
  } while (0)

#define EMU35_CUDNN_CHECK(call)                                                                     \
  do {                                                                                              \
    cudnnStatus_t s_ = (call);                                                                      \
    if (s_ != CUDNN_STATUS_SUCCESS) ::emu35::cuda::fail(#call, cudnnGetErrorString(s_), __FILE__, __LINE__); \
  } while (0)
