#include "cuda/lm_device_memory.h"

#include <cstdio>

#include "cuda/cuda_check.h"

namespace emu35::cuda {

std::string format_bytes(double b) {
  char buf[64];
  if (b >= double(1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1ull << 30));
  else if (b >= double(1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / double(1ull << 20));
  else if (b >= 1024.0)
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

void device_memory(size_t* free_bytes, size_t* total_bytes) {
  size_t f = 0, t = 0;
  EMU35_CUDA_CHECK(cudaMemGetInfo(&f, &t));
  if (free_bytes) *free_bytes = f;
  if (total_bytes) *total_bytes = t;
}

int device_sm_count() {
  int dev = 0, n = 0;
  EMU35_CUDA_CHECK(cudaGetDevice(&dev));
  EMU35_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  return n;
}

DeviceBuffer::DeviceBuffer(size_t bytes, const std::string& what) : bytes_(bytes) {
  if (bytes == 0) return;
  cudaError_t e = cudaMalloc(&ptr_, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the error so later calls do not report it
    ptr_ = nullptr;
    size_t f = 0, t = 0;
    cudaMemGetInfo(&f, &t);
    throw Error("out of GPU memory allocating " + what + ": " + format_bytes(double(bytes)) + " needed, " +
                format_bytes(double(f)) + " free of " + format_bytes(double(t)) + " (" + cudaGetErrorString(e) + ")");
  }
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::reset() noexcept {
  if (ptr_) cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

PinnedBuffer::PinnedBuffer(size_t bytes, const std::string& what) : bytes_(bytes) {
  if (bytes == 0) return;
  cudaError_t e = cudaMallocHost(&ptr_, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    ptr_ = nullptr;
    throw Error("cannot allocate " + format_bytes(double(bytes)) + " of pinned host memory for " + what + " (" +
                cudaGetErrorString(e) + ")");
  }
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

void PinnedBuffer::reset() noexcept {
  if (ptr_) cudaFreeHost(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

Stream::Stream() { EMU35_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
Stream::~Stream() {
  if (stream_) cudaStreamDestroy(stream_);
}
void Stream::synchronize() const { EMU35_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

Event::Event(bool timing) {
  EMU35_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}
Event::~Event() {
  if (event_) cudaEventDestroy(event_);
}
void Event::record(cudaStream_t s) { EMU35_CUDA_CHECK(cudaEventRecord(event_, s)); }
void Event::synchronize() const { EMU35_CUDA_CHECK(cudaEventSynchronize(event_)); }
float Event::elapsed_ms_since(const Event& start) const {
  float ms = 0;
  EMU35_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, event_));
  return ms;
}

CurrentDevice::CurrentDevice(int device) {
  EMU35_CUDA_CHECK(cudaGetDevice(&prev_));
  if (prev_ != device) EMU35_CUDA_CHECK(cudaSetDevice(device));
}
CurrentDevice::~CurrentDevice() {
  int cur = -1;
  if (cudaGetDevice(&cur) == cudaSuccess && cur != prev_ && prev_ >= 0) cudaSetDevice(prev_);
}

}  // namespace emu35::cuda
