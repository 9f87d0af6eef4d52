#include "image/resize.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>

#include "common/error.h"
#include "image/resize_coeffs.h"

namespace emu35 {
namespace {

using resample::kPrecisionBits;
using resample::Taps;

constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);  // PIL starts every sum at one half

// PIL's clip8: drop the fraction (arithmetic shift), clamp to a byte.
inline uint8_t clip8(int32_t v) {
  v >>= kPrecisionBits;
  return uint8_t(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Threads only pay off with some work per pass; tiny pictures stay serial.
constexpr int64_t kParallelWork = 1 << 16;

// Horizontal pass over source rows [y0, y0 + rows) into dst (dst_w wide, `rows` high).
void horizontal_pass(const Image& src, int y0, int rows, const Taps& t, Image& dst) {
  const int out_w = dst.width;
  const int64_t work = int64_t(rows) * out_w * t.ksize;
#pragma omp parallel for schedule(static) if (work > kParallelWork)
  for (int y = 0; y < rows; ++y) {
    const uint8_t* s = src.row(y0 + y);
    uint8_t* d = dst.row(y);
    for (int x = 0; x < out_w; ++x) {
      const int32_t* k = &t.k[size_t(x) * size_t(t.ksize)];
      const uint8_t* p = s + size_t(t.first[size_t(x)]) * 3;
      const int n = t.count[size_t(x)];
      int32_t r = kHalf, g = kHalf, b = kHalf;
      for (int i = 0; i < n; ++i, p += 3) {
        r += p[0] * k[i];
        g += p[1] * k[i];
        b += p[2] * k[i];
      }
      d[3 * x + 0] = clip8(r);
      d[3 * x + 1] = clip8(g);
      d[3 * x + 2] = clip8(b);
    }
  }
}

// Vertical pass: src row (t.first[y] - y0 + i) feeds output row y. Integer
// sums are exact, so accumulating row by row over a strip of columns gives
// PIL's result while the inner loop vectorises.
void vertical_pass(const Image& src, int y0, const Taps& t, Image& dst) {
  const int out_h = dst.height;
  const size_t row_len = size_t(dst.width) * 3;
  constexpr size_t kStrip = 768;  // bytes of a row handled at once (3 KiB of sums)
  const int64_t work = int64_t(out_h) * int64_t(row_len) * t.ksize;
#pragma omp parallel for schedule(static) if (work > kParallelWork)
  for (int y = 0; y < out_h; ++y) {
    const int32_t* k = &t.k[size_t(y) * size_t(t.ksize)];
    const int first = t.first[size_t(y)] - y0;
    const int n = t.count[size_t(y)];
    uint8_t* d = dst.row(y);
    int32_t acc[kStrip];
    for (size_t j0 = 0; j0 < row_len; j0 += kStrip) {
      const size_t len = std::min(kStrip, row_len - j0);
      for (size_t j = 0; j < len; ++j) acc[j] = kHalf;
      for (int i = 0; i < n; ++i) {
        const uint8_t* s = src.row(first + i) + j0;
        const int32_t ki = k[i];
        for (size_t j = 0; j < len; ++j) acc[j] += s[j] * ki;
      }
      for (size_t j = 0; j < len; ++j) d[j0 + j] = clip8(acc[j]);
    }
  }
}

}  // namespace

Image resize_bicubic(const Image& src, int new_w, int new_h) {
  check_image(src, "resize_bicubic: source");
  if (new_w <= 0 || new_h <= 0)
    throw Error("resize_bicubic: target size " + std::to_string(new_w) + "x" +
                std::to_string(new_h) + " must be positive");
  // 2^30 pixels (3 GiB of RGB) is far past any model input; refuse clearly.
  if (int64_t(new_w) * int64_t(new_h) > (int64_t(1) << 30))
    throw Error("resize_bicubic: target size " + std::to_string(new_w) + "x" +
                std::to_string(new_h) + " is too large");
  if (new_w == src.width && new_h == src.height) return src;  // PIL: self.copy()

  const bool need_h = new_w != src.width;
  const bool need_v = new_h != src.height;
  const Taps vt = resample::bicubic_taps(src.height, new_h);
  // Source rows the vertical pass will touch: the horizontal pass skips the rest.
  const int y_first = vt.first.front();
  const int y_last = vt.first.back() + vt.count.back();

  if (!need_h) {  // width unchanged: vertical only, straight from the source
    Image out = Image::blank(new_w, new_h);
    vertical_pass(src, 0, vt, out);
    return out;
  }
  const Taps ht = resample::bicubic_taps(src.width, new_w);
  Image tmp = Image::blank(new_w, y_last - y_first);
  horizontal_pass(src, y_first, tmp.height, ht, tmp);
  if (!need_v) return tmp;  // height unchanged: the taps span every row
  Image out = Image::blank(new_w, new_h);
  vertical_pass(tmp, y_first, vt, out);
  return out;
}

std::pair<int, int> smart_resize_size(int w, int h, int64_t area) {
  if (w <= 0 || h <= 0 || area <= 0)
    throw Error("smart_resize: invalid input " + std::to_string(w) + "x" + std::to_string(h) +
                " with area " + std::to_string(area));
  // Python: a = w / h; nh = int((area / a) ** 0.5); nw = int(nh * a) — floats
  // are doubles, int() truncates (all values here are non-negative).
  const double a = double(w) / double(h);
  const double nh_f = std::sqrt(double(area) / a);
  if (!(nh_f < double(INT_MAX)))
    throw Error("smart_resize: area " + std::to_string(area) + " is too large");
  int64_t nh = int64_t(nh_f);
  const double nw_f = double(nh) * a;
  if (!(nw_f < double(INT_MAX)))
    throw Error("smart_resize: " + std::to_string(w) + "x" + std::to_string(h) + " at area " +
                std::to_string(area) + " gives too wide a picture");
  int64_t nw = int64_t(nw_f);
  nh = ((nh + 8) / 16) * 16;  // nearest multiple of 16 (Python //, operands >= 0)
  nw = ((nw + 8) / 16) * 16;
  if (nw <= 0 || nh <= 0)
    throw Error("smart_resize: a " + std::to_string(w) + "x" + std::to_string(h) +
                " picture at area " + std::to_string(area) + " would become " +
                std::to_string(nw) + "x" + std::to_string(nh) +
                " (aspect ratio too extreme for this area)");
  if (nw > INT_MAX - 16 || nh > INT_MAX - 16)
    throw Error("smart_resize: target size too large");
  return {int(nw), int(nh)};
}

Image smart_resize(const Image& img, int64_t area) {
  check_image(img, "smart_resize");
  const auto [w, h] = smart_resize_size(img.width, img.height, area);
  return resize_bicubic(img, w, h);
}

}  // namespace emu35
