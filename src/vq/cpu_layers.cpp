#include "vq/cpu_layers.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.h"
#include "vq/parallel.h"
#include "vq/simd_math.h"

namespace emu35::vq {

FeatureMap group_norm(const FeatureMap& x, const std::vector<float>& gamma, const std::vector<float>& beta,
                      int groups, float eps, bool swish) {
  if (groups <= 0 || x.c % groups != 0)
    throw Error("group_norm: " + std::to_string(x.c) + " channels do not split into " + std::to_string(groups) + " groups");
  if (gamma.size() != size_t(x.c) || beta.size() != size_t(x.c))
    throw Error("group_norm: affine parameters do not match " + std::to_string(x.c) + " channels");
  const int cpg = x.c / groups;
  const size_t plane = x.plane();
  const size_t count = size_t(cpg) * plane;
  std::vector<double> scale(size_t(x.c)), shift(size_t(x.c));

  const bool par = long(x.size()) > kMinParallelWork;
#pragma omp parallel for schedule(dynamic, 1) if (par)
  for (int g = 0; g < groups; ++g) {
    const float* p = x.channel(g * cpg);
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (size_t i = 0; i < count; ++i) sum += p[i];
    const double mean = sum / double(count);
    double sq = 0;
#pragma omp simd reduction(+ : sq)
    for (size_t i = 0; i < count; ++i) {
      const double d = double(p[i]) - mean;
      sq += d * d;
    }
    const double var = sq / double(count);  // biased, as GroupNorm
    const double rstd = 1.0 / std::sqrt(var + double(eps));
    for (int c = g * cpg; c < (g + 1) * cpg; ++c) {
      scale[size_t(c)] = double(gamma[size_t(c)]) * rstd;
      shift[size_t(c)] = double(beta[size_t(c)]) - mean * scale[size_t(c)];
    }
  }

  FeatureMap out(x.c, x.h, x.w);
#pragma omp parallel for schedule(static) if (par)
  for (int c = 0; c < x.c; ++c) {
    const float* src = x.channel(c);
    float* dst = out.channel(c);
    const double a = scale[size_t(c)], b = shift[size_t(c)];
#pragma omp simd
    for (size_t i = 0; i < plane; ++i) dst[i] = float(double(src[i]) * a + b);
    if (swish) vq::swish_inplace(dst, plane);
  }
  return out;
}

void swish_inplace(FeatureMap& x) {
  const size_t plane = x.plane();
#pragma omp parallel for schedule(static) if (long(x.size()) > kMinParallelWork)
  for (int c = 0; c < x.c; ++c) vq::swish_inplace(x.channel(c), plane);
}

FeatureMap upsample_nearest2x(const FeatureMap& x) {
  FeatureMap out(x.c, x.h * 2, x.w * 2);
#pragma omp parallel for schedule(static) if (long(x.size()) > kMinParallelWork)
  for (int c = 0; c < x.c; ++c) {
    const float* src = x.channel(c);
    float* dst = out.channel(c);
    for (int y = 0; y < x.h; ++y) {
      const float* s = src + size_t(y) * size_t(x.w);
      float* d0 = dst + size_t(2 * y) * size_t(out.w);
      for (int i = 0; i < x.w; ++i) d0[2 * i] = d0[2 * i + 1] = s[i];
      std::copy(d0, d0 + out.w, d0 + out.w);
    }
  }
  return out;
}

void add_inplace(FeatureMap& x, const FeatureMap& y) {
  if (x.c != y.c || x.h != y.h || x.w != y.w) throw Error("add_inplace: shapes differ");
  float* a = x.data.data();
  const float* b = y.data.data();
  const long n = long(x.size());
#pragma omp parallel for simd schedule(static) if (n > kMinParallelWork)
  for (long i = 0; i < n; ++i) a[i] += b[i];
}

FeatureMap spatial_attention(const FeatureMap& q, const FeatureMap& k, const FeatureMap& v) {
  if (q.c != k.c || q.c != v.c || q.plane() != k.plane() || q.plane() != v.plane())
    throw Error("spatial_attention: q, k, v shapes differ");
  const int c = q.c;
  const int n = int(q.plane());
  const float scale = float(std::pow(double(c), -0.5));  // int(c) ** (-0.5), then as float32
  // Query rows per tile: a few tiles per thread, at most ~4M scores (16 MB) each.
  const int nt = num_threads();
  const int max_rows = std::max(1, int((size_t(4) << 20) / size_t(n)));
  const int rows = std::clamp((n + 4 * nt - 1) / (4 * nt), std::min(32, max_rows), max_rows);
  const int tiles = (n + rows - 1) / rows;
  const long work = long(std::min<double>(2.0 * c * double(n) * n, 1e15));
  FeatureMap out(c, q.h, q.w);
  BlasSingleThreaded single;
#pragma omp parallel if (work > kMinParallelWork && tiles > 1)
  {
    std::vector<float> scores(size_t(rows) * size_t(n));
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < tiles; ++t) {
      const int i0 = t * rows, m = std::min(rows, n - i0);
      // scores[i, j] = scale * sum_c q[c, i0 + i] k[c, j]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, c, scale, q.data.data() + i0, n, k.data.data(), n,
                  0.0f, scores.data(), n);
      for (int i = 0; i < m; ++i) {
        float* row = scores.data() + size_t(i) * size_t(n);
        const float mx = *std::max_element(row, row + n);
        const float inv = float(1.0 / exp_shift_sum(row, size_t(n), mx));
        for (int j = 0; j < n; ++j) row[j] *= inv;
      }
      // out[:, i0 + i] = sum_j v[:, j] scores[i, j]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, m, n, 1.0f, v.data.data(), n, scores.data(), n, 0.0f,
                  out.data.data() + i0, n);
    }
  }
  return out;
}

}  // namespace emu35::vq
