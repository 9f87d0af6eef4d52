#include "lm/cpu_ops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

namespace emu35::lm {

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float var = static_cast<float>(ss / static_cast<double>(n));
  const float r = 1.0f / std::sqrt(var + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = w[i] * (x[i] * r);
}

Rope::Rope(int head_dim, double theta) : inv_freq_(static_cast<size_t>(head_dim / 2)) {
  // torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all float32.
  const float base = static_cast<float>(theta);
  for (int i = 0; i < head_dim / 2; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    const float p = static_cast<float>(std::pow(static_cast<double>(base), static_cast<double>(e)));
    inv_freq_[static_cast<size_t>(i)] = 1.0f / p;
  }
}

void Rope::angles(int64_t pos, float* cos_out, float* sin_out) const {
  const float p = static_cast<float>(pos);
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const float a = p * inv_freq_[i];  // float32 product, as the reference's matmul of [d/2,1] x [1,T]
    cos_out[i] = static_cast<float>(std::cos(static_cast<double>(a)));
    sin_out[i] = static_cast<float>(std::sin(static_cast<double>(a)));
  }
}

void Rope::apply(float* x, const float* c, const float* s, int half) {
  for (int i = 0; i < half; ++i) {
    const float a = x[i], b = x[i + half];
    const float ac = a * c[i], bs = b * s[i], bc = b * c[i], as = a * s[i];
    x[i] = ac - bs;
    x[i + half] = bc + as;
  }
}

float dot(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  s0 = _mm256_add_ps(s0, s1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  float r = _mm_cvtss_f32(s);
  for (; i < n; ++i) r = std::fma(a[i], b[i], r);
  return r;
}

void attend(const float* q, const float* keys, const float* values, int64_t len, int64_t hd, float scale,
            float* scores, float* out) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < len; ++j) {
    scores[j] = dot(q, keys + j * hd, hd) * scale;
    mx = std::max(mx, scores[j]);
  }
  float sum = 0;
  for (int64_t j = 0; j < len; ++j) {
    scores[j] = std::exp(scores[j] - mx);
    sum += scores[j];
  }
  const float inv = 1.0f / sum;
  std::fill(out, out + hd, 0.0f);
  for (int64_t j = 0; j < len; ++j) {
    const float p = scores[j] * inv;
    const float* v = values + j * hd;
    const __m256 pv = _mm256_set1_ps(p);
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8)
      _mm256_storeu_ps(out + d, _mm256_fmadd_ps(pv, _mm256_loadu_ps(v + d), _mm256_loadu_ps(out + d)));
    for (; d < hd; ++d) out[d] = std::fma(p, v[d], out[d]);
  }
}

void silu_mul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = (g / (1.0f + std::exp(-g))) * up[i];
  }
}

void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace emu35::lm
