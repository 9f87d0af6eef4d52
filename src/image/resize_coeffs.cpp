// Double-precision part of the resize, written to round exactly as Pillow's C
// does. Fused multiply-add would change last bits of the weights (Pillow's
// wheels are built without FMA), so contraction is off for this file.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "image/resize_coeffs.h"

#include <climits>
#include <cmath>
#include <string>

#include "common/error.h"

namespace emu35::resample {
namespace {

constexpr double kSupport = 2.0;  // bicubic: taps within +-2 (before widening)

// Keys' cubic convolution with a = -0.5, term for term as Resample.c writes it.
double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

}  // namespace

Taps bicubic_taps(int in_size, int out_size) {
  if (in_size <= 0 || out_size <= 0)
    throw Error("resize: invalid sizes (source " + std::to_string(in_size) + ", target " +
                std::to_string(out_size) + ")");
  // PIL passes the box as floats; in1 - in0 = in_size exactly for any real size.
  const float in0 = 0.0f, in1 = float(in_size);
  const double scale = double(in1 - in0) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;  // antialias: widen when shrinking
  const double support = kSupport * filterscale;
  const int ksize = int(std::ceil(support)) * 2 + 1;
  if (out_size > INT_MAX / ksize)
    throw Error("resize: " + std::to_string(in_size) + " -> " + std::to_string(out_size) +
                " needs too many filter taps");

  Taps t;
  t.ksize = ksize;
  t.first.resize(size_t(out_size));
  t.count.resize(size_t(out_size));
  t.k.assign(size_t(out_size) * size_t(ksize), 0);
  std::vector<double> w(static_cast<size_t>(ksize));
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    int xmin = int(center - support + 0.5);  // C truncation toward zero, then clamped
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double v = bicubic((x + xmin - center + 0.5) * ss);
      w[size_t(x)] = v;
      ww += v;
    }
    int32_t* k = &t.k[size_t(xx) * size_t(ksize)];
    for (int x = 0; x < xmax; ++x) {
      double v = w[size_t(x)];
      if (ww != 0.0) v /= ww;
      // normalize_coeffs_8bpc: round half away from zero into fixed point.
      const double scaled = v * (1 << kPrecisionBits);
      k[x] = v < 0 ? int32_t(-0.5 + scaled) : int32_t(0.5 + scaled);
    }
    t.first[size_t(xx)] = xmin;
    t.count[size_t(xx)] = xmax;
  }
  return t;
}

}  // namespace emu35::resample
