// Device memory owned RAII-style from a GpuContext's stream-ordered pool: raw
// buffers, and float32 activations [c, h, w] (the FeatureMap layout on the GPU).
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "vq/feature_map.h"

namespace emu35::cuda::ibq {

class GpuContext;

class DevBuffer {
 public:
  DevBuffer() = default;
  DevBuffer(GpuContext& ctx, size_t bytes);
  ~DevBuffer() { reset(); }
  DevBuffer(DevBuffer&& o) noexcept : ctx_(o.ctx_), p_(std::exchange(o.p_, nullptr)), bytes_(o.bytes_) {}
  DevBuffer& operator=(DevBuffer&& o) noexcept;
  DevBuffer(const DevBuffer&) = delete;
  DevBuffer& operator=(const DevBuffer&) = delete;

  void* get() const { return p_; }
  size_t bytes() const { return bytes_; }
  void reset() noexcept;

  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  GpuContext* ctx_ = nullptr;
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

// An activation: c channels of h x w floats, channel-major.
class DevMap {
 public:
  DevMap() = default;
  DevMap(GpuContext& ctx, int c, int h, int w);  // contents undefined

  int c = 0, h = 0, w = 0;
  float* data() const { return buf_.as<float>(); }
  size_t plane() const { return size_t(h) * size_t(w); }
  size_t size() const { return size_t(c) * plane(); }

 private:
  DevBuffer buf_;
};

// Host <-> device copies on ctx's stream; downloads wait for the stream.
DevMap upload(GpuContext& ctx, const vq::FeatureMap& m);
vq::FeatureMap download(GpuContext& ctx, const DevMap& m);
void copy_to_device(GpuContext& ctx, void* dst, const void* src, size_t bytes);
void copy_to_host(GpuContext& ctx, void* dst, const void* src, size_t bytes);  // synchronises

template <class T>
DevBuffer upload_vector(GpuContext& ctx, const std::vector<T>& v) {
  DevBuffer b(ctx, v.size() * sizeof(T));
  copy_to_device(ctx, b.get(), v.data(), v.size() * sizeof(T));
  return b;
}

template <class T>
std::vector<T> download_vector(GpuContext& ctx, const DevBuffer& b, size_t count) {
  std::vector<T> v(count);
  copy_to_host(ctx, v.data(), b.get(), count * sizeof(T));
  return v;
}

}  // namespace emu35::cuda::ibq
