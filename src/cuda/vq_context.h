// The GPU state the IBQ codec works in: one device, one stream, the cuDNN and
// cuBLASLt handles bound to it, a private stream-ordered memory pool for
// activations, and the convolution / GEMM plan caches.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>

#include "cuda/vq_conv.h"
#include "cuda/vq_gemm.h"
#include "cuda/vq_math_mode.h"

namespace emu35::cuda::ibq {

// Makes `device` current for a scope (CUDA's current device is per host
// thread) and restores the previous one.
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int prev_ = -1;
};

class GpuContext {
 public:
  // Throws Error when `device` does not exist.
  explicit GpuContext(int device);
  ~GpuContext();
  GpuContext(const GpuContext&) = delete;
  GpuContext& operator=(const GpuContext&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  cublasLtHandle_t lt() const { return lt_; }

  // Stream-ordered allocation from the private pool: the memory may be used by
  // work queued on stream() after this call and is reused by later
  // allocations once free() is queued.
  void* alloc(size_t bytes);
  void free(void* p) noexcept;

  void synchronize();
  // Waits for the stream, then gives the pool's cached memory back to the
  // device, so the transformer can use it between picture calls.
  void release_cached_memory();

  // How convolutions and attention GEMMs compute (the codebook search is
  // always exact float32).
  VqMath math = VqMath::kExact;

  ConvEngine& conv() { return conv_; }
  Gemm& gemm() { return gemm_; }
  void* gemm_workspace() const { return gemm_ws_; }
  static constexpr size_t kGemmWorkspaceBytes = size_t(32) << 20;

 private:
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  cudaMemPool_t pool_ = nullptr;
  void* gemm_ws_ = nullptr;
  ConvEngine conv_;
  Gemm gemm_;
};

}  // namespace emu35::cuda::ibq
