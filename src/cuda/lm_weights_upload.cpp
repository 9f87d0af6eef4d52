#include "cuda/lm_weights_upload.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/lm_device_memory.h"
#include "cuda/lm_progress_bar.h"

namespace emu35::cuda {

namespace {
constexpr size_t kChunk = size_t(64) << 20;
constexpr int kCopyThreads = 4;

// memcpy by a few threads: reading a cold mapping is page-fault bound.
void parallel_copy(void* dst, const void* src, size_t bytes) {
  if (bytes < (size_t(4) << 20)) {
    std::memcpy(dst, src, bytes);
    return;
  }
  const size_t per = (bytes + kCopyThreads - 1) / kCopyThreads;
  std::vector<std::thread> ts;
  for (int i = 1; i < kCopyThreads; ++i) {
    const size_t b = std::min(bytes, per * i), e = std::min(bytes, b + per);
    if (b < e)
      ts.emplace_back([=] { std::memcpy(static_cast<char*>(dst) + b, static_cast<const char*>(src) + b, e - b); });
  }
  std::memcpy(dst, src, std::min(per, bytes));
  for (auto& t : ts) t.join();
}
}  // namespace

struct WeightUploader::Impl {
  cudaStream_t stream;
  PinnedBuffer pinned[2];
  DeviceBuffer staging[2];  // raw bytes to convert on the device
  Event done[2];
  int next = 0;
  ProgressBar bar;

  Impl(cudaStream_t s, uint64_t total, bool progress) : stream(s), bar("loading weights", total, progress) {
    for (auto& p : pinned) p = PinnedBuffer(kChunk, "weight staging");
  }

  // One chunk: wait until its buffer is free again, fill it, queue the copy (and conversion).
  void chunk(const void* src, size_t bytes, void* dst, DType src_dtype, bool convert, size_t n, ActType dst_type) {
    const int i = next;
    next ^= 1;
    done[i].synchronize();
    parallel_copy(pinned[i].get(), src, bytes);
    if (!convert) {
      EMU35_CUDA_CHECK(cudaMemcpyAsync(dst, pinned[i].get(), bytes, cudaMemcpyHostToDevice, stream));
    } else {
      if (!staging[i]) staging[i] = DeviceBuffer(kChunk, "weight conversion staging");
      EMU35_CUDA_CHECK(cudaMemcpyAsync(staging[i].get(), pinned[i].get(), bytes, cudaMemcpyHostToDevice, stream));
      lmk::convert(staging[i].get(), src_dtype, dst, dst_type, n, stream);
    }
    done[i].record(stream);
    bar.add(bytes);
  }
};

WeightUploader::WeightUploader(cudaStream_t stream, uint64_t total_bytes, bool progress)
    : impl_(std::make_unique<Impl>(stream, total_bytes, progress)) {}

WeightUploader::~WeightUploader() {
  // Pinned buffers must not be freed under a pending copy.
  if (impl_) cudaStreamSynchronize(impl_->stream);
}

void WeightUploader::upload(const void* src, DType src_dtype, size_t n, void* dst, ActType dst_type) {
  const size_t es = dtype_size(src_dtype);
  const bool same =
      (src_dtype == DType::BF16 && dst_type == ActType::BF16) || (src_dtype == DType::F32 && dst_type == ActType::F32);
  const size_t per = kChunk / es;
  for (size_t i = 0; i < n; i += per) {
    const size_t m = std::min(per, n - i);
    impl_->chunk(static_cast<const char*>(src) + i * es, m * es, static_cast<char*>(dst) + i * act_size(dst_type),
                 src_dtype, !same, m, dst_type);
  }
}

void WeightUploader::upload_bytes(const void* src, size_t bytes, void* dst) {
  for (size_t i = 0; i < bytes; i += kChunk) {
    const size_t m = std::min(kChunk, bytes - i);
    impl_->chunk(static_cast<const char*>(src) + i, m, static_cast<char*>(dst) + i, DType::U8, false, m, ActType::BF16);
  }
}

void WeightUploader::finish() {
  EMU35_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
  impl_->bar.finish();
}

}  // namespace emu35::cuda
