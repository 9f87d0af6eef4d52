#include "cuda/vq_device_map.h"

#include "common/error.h"
#include "cuda/cuda_check.h"
#include "cuda/vq_context.h"

namespace emu35::cuda::ibq {

DevBuffer::DevBuffer(GpuContext& ctx, size_t bytes) : ctx_(&ctx), p_(ctx.alloc(bytes)), bytes_(bytes) {}

DevBuffer& DevBuffer::operator=(DevBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    ctx_ = o.ctx_;
    p_ = std::exchange(o.p_, nullptr);
    bytes_ = o.bytes_;
  }
  return *this;
}

void DevBuffer::reset() noexcept {
  if (p_ && ctx_) ctx_->free(p_);
  p_ = nullptr;
  bytes_ = 0;
}

DevMap::DevMap(GpuContext& ctx, int c_, int h_, int w_) : c(c_), h(h_), w(w_) {
  if (c_ <= 0 || h_ <= 0 || w_ <= 0)
    throw Error("GPU activation of empty shape " + std::to_string(c_) + "x" + std::to_string(h_) + "x" +
                std::to_string(w_));
  buf_ = DevBuffer(ctx, size() * sizeof(float));
}

void copy_to_device(GpuContext& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes) EMU35_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.stream()));
}

void copy_to_host(GpuContext& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes) EMU35_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
}

DevMap upload(GpuContext& ctx, const vq::FeatureMap& m) {
  if (m.data.size() != size_t(m.c) * m.plane()) throw Error("upload: feature map data does not match its shape");
  DevMap d(ctx, m.c, m.h, m.w);
  copy_to_device(ctx, d.data(), m.data.data(), m.size() * sizeof(float));
  // Pageable host memory: the copy is staged before cudaMemcpyAsync returns,
  // so `m` may go away afterwards.
  return d;
}

vq::FeatureMap download(GpuContext& ctx, const DevMap& m) {
  vq::FeatureMap out(m.c, m.h, m.w);
  copy_to_host(ctx, out.data.data(), m.data(), m.size() * sizeof(float));
  return out;
}

}  // namespace emu35::cuda::ibq
