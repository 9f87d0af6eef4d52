// The two matmul paths against a double-precision product, for every stored dtype
// and awkward sizes; and the few-row kernel's promise: a row's result does not
// depend on the other rows or on the thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lm/cpu_matmul.h"
#include "test_support.h"

namespace emu35::test {
namespace {

using lm::WeightMatrix;

struct Weights {
  TensorView view;
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // what the stored values mean
  WeightMatrix m() const { return WeightMatrix{&view, view.dtype, view.data, view.shape[0], view.shape[1]}; }
};

float rnd(uint32_t& s) {
  s = s * 1664525u + 1013904223u;
  return static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
}

Weights make_weights(DType dt, int64_t N, int64_t K, uint32_t seed) {
  Weights w;
  w.view.name.assign(1, 'w');  // (not = "w": GCC 12 warns falsely)
  w.view.dtype = dt;
  w.view.shape = {N, K};
  w.values.resize(static_cast<size_t>(N * K));
  w.bytes.resize(static_cast<size_t>(N * K) * dtype_size(dt) + 1);
  for (size_t i = 0; i < w.values.size(); ++i) {
    const float f = rnd(seed);
    if (dt == DType::BF16) {
      const uint16_t h = f32_to_bf16(f);
      std::memcpy(&w.bytes[2 * i + 1], &h, 2);  // odd address: loads must not assume alignment
      w.values[i] = bf16_to_f32(h);
    } else if (dt == DType::F16) {
      const uint16_t h = f32_to_f16(f);
      std::memcpy(&w.bytes[2 * i + 1], &h, 2);
      w.values[i] = f16_to_f32(h);
    } else {
      std::memcpy(&w.bytes[4 * i + 1], &f, 4);
      w.values[i] = f;
    }
  }
  w.view.data = w.bytes.data() + 1;
  w.view.nbytes = w.bytes.size() - 1;
  return w;
}

// The exact product and, per element, sum_k |x w| (the scale of float rounding errors).
struct Ref {
  std::vector<double> y, scale;
};
Ref reference(const std::vector<float>& x, int64_t M, const Weights& w) {
  const int64_t N = w.view.shape[0], K = w.view.shape[1];
  Ref r{std::vector<double>(static_cast<size_t>(M * N)), std::vector<double>(static_cast<size_t>(M * N))};
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0, a = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double p = static_cast<double>(x[m * K + k]) * w.values[n * K + k];
        s += p;
        a += std::abs(p);
      }
      r.y[m * N + n] = s;
      r.scale[m * N + n] = a;
    }
  return r;
}

// Worst error relative to the rounding scale; float32 summation keeps it far below 1e-5.
double worst(const std::vector<float>& got, const Ref& r) {
  double e = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(got[i] - r.y[i]) / std::max(r.scale[i], 1e-30);
    e = std::isnan(d) ? INFINITY : std::max(e, d);
  }
  return e;
}

TEST(LmMatmul, BothPathsMatchDoubleProduct) {
  lm::ThreadPool pool2(2);
  uint32_t seed = 5;
  for (DType dt : {DType::BF16, DType::F16, DType::F32})
    for (int64_t K : {1, 7, 8, 33, 100})
      for (int64_t N : {1, 5, 16, 37})
        for (int64_t M : {1, 2, 3, 4, 7, 20}) {
          const Weights w = make_weights(dt, N, K, seed++);
          std::vector<float> x(static_cast<size_t>(M * K));
          for (float& f : x) f = rnd(seed);
          const Ref ref = reference(x, M, w);
          std::vector<float> y1(ref.y.size()), y2(ref.y.size());
          std::vector<std::vector<float>> scratch;
          lm::matmul_direct(x.data(), M, w.m(), y1.data(), pool2);
          lm::matmul_blas(x.data(), M, w.m(), y2.data(), pool2, scratch);
          const std::string what = std::string(dtype_name(dt)) + " M=" + std::to_string(M) + " N=" +
                                   std::to_string(N) + " K=" + std::to_string(K);
          EXPECT_LE(worst(y1, ref), 1e-6) << "direct " << what;
          EXPECT_LE(worst(y2, ref), 1e-6) << "blas " << what;
        }
}

TEST(LmMatmul, DirectRowsIndependentOfBatchAndThreads) {
  const int64_t N = 203, K = 136, M = 11;
  const Weights w = make_weights(DType::BF16, N, K, 99);
  uint32_t seed = 3;
  std::vector<float> x(static_cast<size_t>(M * K));
  for (float& f : x) f = rnd(seed);
  std::vector<float> all(static_cast<size_t>(M * N)), all1(all.size());
  lm::ThreadPool pool1(1), pool2(2), pool3(3);
  lm::matmul_direct(x.data(), M, w.m(), all.data(), pool2);
  lm::matmul_direct(x.data(), M, w.m(), all1.data(), pool1);
  EXPECT_EQ(all, all1);
  for (int64_t first = 0; first < M; ++first)
    for (int64_t count : {1, 2, 3, 4}) {
      if (first + count > M) continue;
      std::vector<float> part(static_cast<size_t>(count * N));
      lm::matmul_direct(x.data() + first * K, count, w.m(), part.data(), pool3);
      EXPECT_EQ(std::memcmp(part.data(), all.data() + first * N, part.size() * sizeof(float)), 0)
          << "rows " << first << ".." << first + count;
    }
}

TEST(LmMatmul, ConvertRows) {
  for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
    const Weights w = make_weights(dt, 9, 13, 42);
    std::vector<float> got(3 * 13);
    lm::convert_rows_f32(w.m(), 4, 3, got.data());
    EXPECT_EQ(got, std::vector<float>(w.values.begin() + 4 * 13, w.values.begin() + 7 * 13)) << dtype_name(dt);
  }
}

}  // namespace
}  // namespace emu35::test
