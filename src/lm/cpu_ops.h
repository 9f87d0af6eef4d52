// Float32 building blocks of the transformer forward, written to follow the upstream
// (PyTorch float32) operation order closely enough for 1e-4 parity.
#pragma once
#include <cstdint>
#include <vector>

namespace emu35::lm {

// y = w * (x * rsqrt(mean(x^2) + eps)); y may alias x. The mean is accumulated in double.
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);

// Rotate-half RoPE. inv_freq[i] = 1 / theta^(2i/head_dim) in float32, as Hugging Face builds it.
class Rope {
 public:
  Rope(int head_dim, double theta);
  int half() const { return static_cast<int>(inv_freq_.size()); }
  // cos/sin of pos * inv_freq[i] for i < half (the upper half repeats them).
  void angles(int64_t pos, float* cos_out, float* sin_out) const;
  // x[0:half], x[half:] -> x*cos + rotate_half(x)*sin, in place.
  static void apply(float* x, const float* cos_v, const float* sin_v, int half);

 private:
  std::vector<float> inv_freq_;
};

float dot(const float* a, const float* b, int64_t n);  // fixed summation order

// Causal attention of one query head over `len` cached positions (keys/values
// [len][head_dim], contiguous): softmax(q.K^T * scale) V into out[head_dim].
// scores needs len floats.
void attend(const float* q, const float* keys, const float* values, int64_t len, int64_t head_dim, float scale,
            float* scores, float* out);

// gate[i] = silu(gate[i]) * up[i]
void silu_mul(float* gate, const float* up, int64_t n);

// x[i] += y[i]
void add_inplace(float* x, const float* y, int64_t n);

}  // namespace emu35::lm
