#include "cuda/vq_context.h"

#include <cstdint>
#include <string>

#include "common/error.h"
#include "cuda/cuda_check.h"

namespace emu35::cuda::ibq {

DeviceScope::DeviceScope(int device) {
  EMU35_CUDA_CHECK(cudaGetDevice(&prev_));
  if (prev_ != device) EMU35_CUDA_CHECK(cudaSetDevice(device));
}

DeviceScope::~DeviceScope() {
  if (prev_ >= 0) cudaSetDevice(prev_);
}

GpuContext::GpuContext(int device) : device_(device) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    count = 0;
  }
  if (device < 0 || device >= count)
    throw Error("CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) +
                " visible)");
  DeviceScope scope(device);
  try {
    EMU35_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    EMU35_CUDNN_CHECK(cudnnCreate(&cudnn_));
    EMU35_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
    EMU35_CUBLAS_CHECK(cublasLtCreate(&lt_));
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    EMU35_CUDA_CHECK(cudaMemPoolCreate(&pool_, &props));
    // Keep freed blocks cached within a call (no implicit release at every
    // synchronisation); release_cached_memory() trims explicitly.
    uint64_t keep = UINT64_MAX;
    EMU35_CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep));
    EMU35_CUDA_CHECK(cudaMalloc(&gemm_ws_, kGemmWorkspaceBytes));
  } catch (...) {
    if (gemm_ws_) cudaFree(gemm_ws_);
    if (pool_) cudaMemPoolDestroy(pool_);
    if (lt_) cublasLtDestroy(lt_);
    if (cudnn_) cudnnDestroy(cudnn_);
    if (stream_) cudaStreamDestroy(stream_);
    throw;
  }
}

GpuContext::~GpuContext() {
  // No throwing here: errors while tearing down are ignored.
  int prev = -1;
  if (cudaGetDevice(&prev) == cudaSuccess && prev != device_) cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  conv_.clear();
  gemm_.clear();
  cudaFree(gemm_ws_);
  cudaMemPoolDestroy(pool_);
  cublasLtDestroy(lt_);
  cudnnDestroy(cudnn_);
  cudaStreamDestroy(stream_);
  if (prev >= 0 && prev != device_) cudaSetDevice(prev);
}

void* GpuContext::alloc(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) bytes = 256;
  const cudaError_t e = cudaMallocFromPoolAsync(&p, bytes, pool_, stream_);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total = 0;
    cudaMemGetInfo(&free_b, &total);
    throw Error("CUDA vision tokenizer: cannot allocate " + std::to_string(bytes >> 20) + " MiB on device " +
                std::to_string(device_) + " (" + std::to_string(free_b >> 20) + " MiB free): " +
                cudaGetErrorString(e));
  }
  return p;
}

void GpuContext::free(void* p) noexcept {
  if (p) cudaFreeAsync(p, stream_);
}

void GpuContext::synchronize() { EMU35_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

void GpuContext::release_cached_memory() {
  synchronize();
  EMU35_CUDA_CHECK(cudaMemPoolTrimTo(pool_, 0));
}

}  // namespace emu35::cuda::ibq
