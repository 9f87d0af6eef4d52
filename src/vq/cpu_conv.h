// 2-D convolution of one CHW picture on the CPU: 1x1 kernels are one GEMM;
// larger kernels go through im2col in tiles of output rows (so a 512x512
// full-width layer never materialises a multi-GB column matrix) + cblas_sgemm.
// Tiles run in parallel on OpenMP threads (see vq/parallel.h).
#pragma once
#include <vector>

#include "vq/feature_map.h"

namespace emu35::vq {

// nn.Conv2d weights: weight [cout, cin, k, k] row-major, bias [cout].
struct Conv2d {
  int cout = 0, cin = 0, k = 1;
  std::vector<float> weight, bias;
};

struct ConvPadding {
  int top = 0, left = 0, bottom = 0, right = 0;
  static ConvPadding same(int k) { return {k / 2, k / 2, k / 2, k / 2}; }
};

// Zero padding then a stride-`stride` convolution. Throws Error when the
// input channels do not match or the output would be empty.
FeatureMap conv2d(const FeatureMap& x, const Conv2d& conv, int stride, ConvPadding pad);

// The common cases by name.
inline FeatureMap conv_same(const FeatureMap& x, const Conv2d& conv) { return conv2d(x, conv, 1, ConvPadding::same(conv.k)); }
// IBQ Downsample: pad right and bottom by one, 3x3 stride 2, no other padding.
inline FeatureMap conv_downsample(const FeatureMap& x, const Conv2d& conv) { return conv2d(x, conv, 2, {0, 0, 1, 1}); }

// Column budget of one im2col tile (per thread), in floats; a tile holds at
// least one output row.
inline constexpr size_t kIm2colTileFloats = size_t(2) << 20;

}  // namespace emu35::vq
