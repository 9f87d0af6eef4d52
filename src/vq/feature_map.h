// A float32 activation of one picture: C channels of H x W, channel-major
// (the CHW layout of PyTorch's NCHW with N = 1).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace emu35::vq {

struct FeatureMap {
  int c = 0, h = 0, w = 0;
  std::vector<float> data;  // c * h * w

  FeatureMap() = default;
  FeatureMap(int c_, int h_, int w_) : c(c_), h(h_), w(w_), data(size_t(c_) * size_t(h_) * size_t(w_)) {}

  size_t plane() const { return size_t(h) * size_t(w); }
  size_t size() const { return data.size(); }
  float* channel(int ch) { return data.data() + size_t(ch) * plane(); }
  const float* channel(int ch) const { return data.data() + size_t(ch) * plane(); }
};

}  // namespace emu35::vq
