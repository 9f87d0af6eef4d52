#include "vq/cpu_conv.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "common/error.h"
#include "vq/parallel.h"

namespace emu35::vq {

namespace {

// Column matrix for output rows [y0, y1): row (c, ky, kx), column (y - y0) * wo + x,
// the input pixel under kernel tap (ky, kx) or 0 in the padding.
void im2col(const FeatureMap& in, int k, int stride, const ConvPadding& pad, int wo, int y0, int y1, float* col) {
  const size_t ncols = size_t(y1 - y0) * size_t(wo);
  for (int c = 0; c < in.c; ++c) {
    const float* src = in.channel(c);
    for (int ky = 0; ky < k; ++ky) {
      for (int kx = 0; kx < k; ++kx) {
        float* dst = col + (size_t(c) * k * k + size_t(ky) * k + kx) * ncols;
        // Output columns x whose input column x*stride + kx - left is inside the picture.
        const int off = kx - pad.left;
        int xa = off >= 0 ? 0 : (-off + stride - 1) / stride;
        int xb = in.w - 1 - off >= 0 ? (in.w - 1 - off) / stride + 1 : 0;
        xa = std::min(xa, wo);
        xb = std::clamp(xb, xa, wo);
        for (int y = y0; y < y1; ++y, dst += wo) {
          const int iy = y * stride + ky - pad.top;
          if (iy < 0 || iy >= in.h) {
            std::memset(dst, 0, sizeof(float) * size_t(wo));
            continue;
          }
          const float* row = src + size_t(iy) * size_t(in.w);
          std::fill(dst, dst + xa, 0.0f);
          if (stride == 1) {
            std::memcpy(dst + xa, row + xa + off, sizeof(float) * size_t(xb - xa));
          } else {
            for (int x = xa; x < xb; ++x) dst[x] = row[x * stride + off];
          }
          std::fill(dst + xb, dst + wo, 0.0f);
        }
      }
    }
  }
}

// out[:, cols] = bias, so the GEMM can accumulate onto it (beta = 1).
void fill_bias(const Conv2d& conv, float* out, size_t plane, size_t c0, size_t n) {
  for (int o = 0; o < conv.cout; ++o) std::fill_n(out + size_t(o) * plane + c0, n, conv.bias[size_t(o)]);
}

// Tile length (in output rows or columns) giving each thread a few tiles to
// balance, each at least `min_len` long and within `max_len`.
int tile_length(int total, int min_len, int max_len) {
  const int nt = num_threads();
  int want = (total + 4 * nt - 1) / (4 * nt);
  return std::clamp(std::max(want, min_len), 1, std::max(1, std::min(max_len, total)));
}

}  // namespace

FeatureMap conv2d(const FeatureMap& x, const Conv2d& conv, int stride, ConvPadding pad) {
  if (x.c != conv.cin)
    throw Error("conv2d: input has " + std::to_string(x.c) + " channels, the kernel expects " + std::to_string(conv.cin));
  const int hp = x.h + pad.top + pad.bottom, wp = x.w + pad.left + pad.right;
  if (hp < conv.k || wp < conv.k || stride < 1)
    throw Error("conv2d: a " + std::to_string(x.h) + "x" + std::to_string(x.w) + " input is too small for a " +
                std::to_string(conv.k) + "x" + std::to_string(conv.k) + " kernel");
  const int ho = (hp - conv.k) / stride + 1, wo = (wp - conv.k) / stride + 1;
  FeatureMap out(conv.cout, ho, wo);
  const size_t plane = out.plane();
  const size_t kdim = size_t(conv.cin) * conv.k * conv.k;
  const long work = long(std::min<size_t>(size_t(conv.cout) * kdim * plane, size_t(1) << 40));
  BlasSingleThreaded single;

  const bool pointwise = conv.k == 1 && stride == 1 && pad.top == 0 && pad.left == 0 && pad.bottom == 0 && pad.right == 0;
  if (pointwise) {
    // One GEMM, split over column ranges: out[:, c0:c1] = W x[:, c0:c1].
    const int len = tile_length(int(plane), 256, int(plane));
    const int tiles = int((plane + size_t(len) - 1) / size_t(len));
#pragma omp parallel for schedule(dynamic, 1) if (work > kMinParallelWork && tiles > 1)
    for (int t = 0; t < tiles; ++t) {
      const size_t c0 = size_t(t) * size_t(len), n = std::min(plane - c0, size_t(len));
      fill_bias(conv, out.data.data(), plane, c0, n);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, conv.cout, int(n), conv.cin, 1.0f, conv.weight.data(),
                  conv.cin, x.data.data() + c0, int(plane), 1.0f, out.data.data() + c0, int(plane));
    }
    return out;
  }

  // im2col per tile of output rows, each thread with its own column buffer.
  const int max_rows = int(std::max<size_t>(1, kIm2colTileFloats / (kdim * size_t(wo))));
  const int rows = tile_length(ho, (256 + wo - 1) / wo, max_rows);
  const int tiles = (ho + rows - 1) / rows;
#pragma omp parallel if (work > kMinParallelWork && tiles > 1)
  {
    std::vector<float> col(kdim * size_t(rows) * size_t(wo));
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < tiles; ++t) {
      const int y0 = t * rows, y1 = std::min(ho, y0 + rows);
      const int n = (y1 - y0) * wo;
      const size_t c0 = size_t(y0) * size_t(wo);
      im2col(x, conv.k, stride, pad, wo, y0, y1, col.data());
      fill_bias(conv, out.data.data(), plane, c0, size_t(n));
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, conv.cout, n, int(kdim), 1.0f, conv.weight.data(),
                  int(kdim), col.data(), n, 1.0f, out.data.data() + c0, int(plane));
    }
  }
  return out;
}

}  // namespace emu35::vq
