// Helpers shared by the IBQ GPU tests: skipping without a GPU, one GPU
// context per test binary, random inputs, CPU <-> GPU comparisons.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda/device_info.h"
#include "cuda/vq_context.h"
#include "cuda/vq_device_map.h"
#include "test_support.h"
#include "vq/cpu_conv.h"
#include "vq/feature_map.h"

#define EMU35_SKIP_WITHOUT_GPU()                                      \
  do {                                                               \
    if (::emu35::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA GPU"; \
  } while (0)

namespace emu35::cuda::ibq::vqtest {

// Created on first use (only in tests that did not skip), kept for the binary.
inline GpuContext& gpu() {
  static GpuContext* ctx = new GpuContext(0);
  return *ctx;
}

inline vq::FeatureMap random_map(int c, int h, int w, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  vq::FeatureMap m(c, h, w);
  for (float& v : m.data) v = d(rng);
  return m;
}

inline std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

inline vq::Conv2d random_conv(int cin, int cout, int k, uint32_t seed) {
  vq::Conv2d c;
  c.cin = cin;
  c.cout = cout;
  c.k = k;
  const float bound = 1.0f / std::sqrt(float(cin * k * k));  // keeps outputs O(1), as nn.Conv2d's init
  c.weight = random_vector(size_t(cout) * size_t(cin) * size_t(k) * size_t(k), seed, -bound, bound);
  c.bias = random_vector(size_t(cout), seed + 1, -bound, bound);
  return c;
}

// max |a - b| / max |b| (the fixtures' parity measure), shapes checked.
inline double rel_err(const vq::FeatureMap& got, const vq::FeatureMap& ref) {
  EXPECT_EQ(got.c, ref.c);
  EXPECT_EQ(got.h, ref.h);
  EXPECT_EQ(got.w, ref.w);
  if (got.data.size() != ref.data.size()) return 1e30;
  return test::rel_max_error(got.data.data(), ref.data.data(), ref.data.size());
}

}  // namespace emu35::cuda::ibq::vqtest
