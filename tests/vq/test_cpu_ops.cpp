// The IBQ CPU layers against straightforward double-precision references.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/error.h"
#include "test_support.h"
#include "vq/codebook.h"
#include "vq/cpu_conv.h"
#include "vq/cpu_layers.h"
#include "vq/simd_math.h"

namespace emu35::vq {
namespace {

FeatureMap random_map(int c, int h, int w, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  FeatureMap m(c, h, w);
  for (float& v : m.data) v = d(rng);
  return m;
}

Conv2d random_conv(int cin, int cout, int k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-0.5f, 0.5f);
  Conv2d c;
  c.cin = cin;
  c.cout = cout;
  c.k = k;
  c.weight.resize(size_t(cout) * cin * k * k);
  c.bias.resize(size_t(cout));
  for (float& v : c.weight) v = d(rng);
  for (float& v : c.bias) v = d(rng);
  return c;
}

std::vector<double> naive_conv(const FeatureMap& x, const Conv2d& c, int stride, ConvPadding p, int* ho, int* wo) {
  *ho = (x.h + p.top + p.bottom - c.k) / stride + 1;
  *wo = (x.w + p.left + p.right - c.k) / stride + 1;
  std::vector<double> out(size_t(c.cout) * *ho * *wo);
  for (int o = 0; o < c.cout; ++o)
    for (int y = 0; y < *ho; ++y)
      for (int xx = 0; xx < *wo; ++xx) {
        double s = c.bias[size_t(o)];
        for (int i = 0; i < c.cin; ++i)
          for (int ky = 0; ky < c.k; ++ky)
            for (int kx = 0; kx < c.k; ++kx) {
              const int iy = y * stride + ky - p.top, ix = xx * stride + kx - p.left;
              if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w) continue;
              s += double(c.weight[((size_t(o) * c.cin + i) * c.k + ky) * c.k + kx]) *
                   x.data[(size_t(i) * x.h + iy) * x.w + ix];
            }
        out[(size_t(o) * *ho + y) * *wo + xx] = s;
      }
  return out;
}

double max_rel(const std::vector<float>& got, const std::vector<double>& ref) {
  std::vector<float> r(ref.begin(), ref.end());
  EXPECT_EQ(got.size(), r.size());
  return test::rel_max_error(got.data(), r.data(), std::min(got.size(), r.size()));
}

struct ConvCase {
  int cin, cout, k, h, w, stride;
  ConvPadding pad;
};

TEST(CpuConv, MatchesNaiveConvolution) {
  const ConvCase cases[] = {
      {5, 7, 1, 9, 11, 1, {0, 0, 0, 0}},      // pointwise: one GEMM
      {3, 8, 3, 16, 16, 1, {1, 1, 1, 1}},     // conv_in
      {6, 4, 3, 7, 13, 1, {1, 1, 1, 1}},      // odd sizes
      {8, 8, 3, 16, 12, 2, {0, 0, 1, 1}},     // IBQ downsample
      {4, 4, 3, 9, 7, 2, {0, 0, 1, 1}},       // downsample of odd sides
      {64, 4, 3, 130, 130, 1, {1, 1, 1, 1}},  // several im2col tiles
      {2, 3, 3, 5, 6, 1, {2, 0, 1, 3}},       // uneven padding
  };
  uint32_t seed = 1;
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::Message() << "cin " << c.cin << " k " << c.k << " " << c.h << "x" << c.w << " s" << c.stride);
    const FeatureMap x = random_map(c.cin, c.h, c.w, seed++);
    const Conv2d conv = random_conv(c.cin, c.cout, c.k, seed++);
    const FeatureMap y = conv2d(x, conv, c.stride, c.pad);
    int ho, wo;
    const std::vector<double> ref = naive_conv(x, conv, c.stride, c.pad, &ho, &wo);
    ASSERT_EQ(y.c, c.cout);
    ASSERT_EQ(y.h, ho);
    ASSERT_EQ(y.w, wo);
    EXPECT_LE(max_rel(y.data, ref), 1e-6);
  }
  // The tile case really is tiled.
  EXPECT_LT(kIm2colTileFloats / (size_t(64) * 9 * 130), size_t(130));
}

TEST(CpuConv, RejectsMismatchedInput) {
  const Conv2d conv = random_conv(4, 4, 3, 1);
  EXPECT_THROW(conv_same(random_map(3, 8, 8, 1), conv), Error);
  EXPECT_THROW(conv2d(random_map(4, 1, 1, 1), conv, 2, {0, 0, 1, 1}), Error);
}

TEST(CpuLayers, GroupNormMatchesNaive) {
  const int c = 64, h = 9, w = 7, groups = 32;
  // A large common offset makes a one-pass E[x^2] - E[x]^2 in float lose everything.
  FeatureMap x = random_map(c, h, w, 3, 999.0f, 1001.0f);
  std::vector<float> gamma(c), beta(c);
  for (int i = 0; i < c; ++i) {
    gamma[size_t(i)] = 0.5f + 0.01f * i;
    beta[size_t(i)] = -0.2f + 0.003f * i;
  }
  for (bool swish : {false, true}) {
    const FeatureMap y = group_norm(x, gamma, beta, groups, 1e-6f, swish);
    std::vector<double> ref(x.size());
    const int cpg = c / groups;
    const size_t n = size_t(cpg) * h * w;
    for (int g = 0; g < groups; ++g) {
      const float* p = x.channel(g * cpg);
      double mean = 0, var = 0;
      for (size_t i = 0; i < n; ++i) mean += p[i];
      mean /= double(n);
      for (size_t i = 0; i < n; ++i) var += (p[i] - mean) * (p[i] - mean);
      var /= double(n);
      for (int ch = g * cpg; ch < (g + 1) * cpg; ++ch)
        for (size_t i = 0; i < size_t(h) * w; ++i) {
          double v = (x.channel(ch)[i] - mean) / std::sqrt(var + 1e-6) * gamma[size_t(ch)] + beta[size_t(ch)];
          if (swish) v = v / (1 + std::exp(-v));
          ref[size_t(ch) * h * w + i] = v;
        }
    }
    EXPECT_LE(max_rel(y.data, ref), 2e-5) << "swish " << swish;
  }
  EXPECT_THROW(group_norm(random_map(48, 2, 2, 1), std::vector<float>(48), std::vector<float>(48), 32, 1e-6f, false),
               Error);
}

TEST(CpuLayers, AttentionMatchesNaive) {
  const int c = 16;
  for (int side : {3, 6}) {
    const FeatureMap q = random_map(c, side, side + 1, 10), k = random_map(c, side, side + 1, 11),
                     v = random_map(c, side, side + 1, 12);
    const int n = side * (side + 1);
    const FeatureMap o = spatial_attention(q, k, v);
    std::vector<double> ref(size_t(c) * n);
    for (int i = 0; i < n; ++i) {
      std::vector<double> s(static_cast<size_t>(n));
      double mx = -1e300, sum = 0;
      for (int j = 0; j < n; ++j) {
        double d = 0;
        for (int ch = 0; ch < c; ++ch) d += double(q.data[size_t(ch) * n + i]) * k.data[size_t(ch) * n + j];
        s[size_t(j)] = d / std::sqrt(double(c));
        mx = std::max(mx, s[size_t(j)]);
      }
      for (double& e : s) sum += (e = std::exp(e - mx));
      for (int ch = 0; ch < c; ++ch) {
        double acc = 0;
        for (int j = 0; j < n; ++j) acc += s[size_t(j)] / sum * v.data[size_t(ch) * n + j];
        ref[size_t(ch) * n + i] = acc;
      }
    }
    EXPECT_LE(max_rel(o.data, ref), 1e-5) << side;
  }
}

TEST(CpuLayers, UpsampleAndAdd) {
  const FeatureMap x = random_map(2, 3, 5, 4);
  const FeatureMap u = upsample_nearest2x(x);
  ASSERT_EQ(u.h, 6);
  ASSERT_EQ(u.w, 10);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 6; ++y)
      for (int xx = 0; xx < 10; ++xx)
        ASSERT_EQ(u.channel(c)[y * 10 + xx], x.channel(c)[(y / 2) * 5 + xx / 2]);
  FeatureMap a = x;
  add_inplace(a, x);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.data[i], 2 * x.data[i]);
  EXPECT_THROW(add_inplace(a, u), Error);
}

TEST(SimdMath, ExpAndSwishAreAccurate) {
  std::vector<float> xs;
  for (float v = -90.0f; v <= 90.0f; v += 0.0137f) xs.push_back(v);
  std::vector<float> sw = xs;
  swish_inplace(sw.data(), sw.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    const double ref = double(xs[i]) / (1.0 + std::exp(-double(xs[i])));
    ASSERT_NEAR(sw[i], ref, 1e-6 * std::max(1.0, std::fabs(ref))) << xs[i];
  }
  std::vector<float> e(xs.begin(), xs.end());
  for (float& v : e) v = std::min(v, 0.0f);  // softmax inputs: x - max <= 0
  std::vector<float> in = e;
  double sum = exp_shift_sum(e.data(), e.size(), 0.0f), ref_sum = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    const double ref = std::exp(double(in[i]));
    ref_sum += ref;
    ASSERT_NEAR(e[i], ref, 3e-7 * ref + 1e-37) << in[i];
  }
  EXPECT_NEAR(sum, ref_sum, 1e-6 * ref_sum);
}

TEST(Codebook, ArgmaxIsDotProductWithFirstIndexTies) {
  // 2-d codes; the latent has 3 positions.
  const std::vector<float> book = {
      1, 0,    // 0
      0, 1,    // 1
      10, 10,  // 2: far away in L2, but the largest dot product for (1, 1)
      0, 1,    // 3: same as 1 (a tie: 1 wins)
  };
  FeatureMap z(2, 1, 3);
  // position 0: (1, 1) -> 2; position 1: (-2, 1) -> 1 (tied with 3);
  // position 2: (-1, -1) -> 0 (tied with 1 and 3)
  z.data = {1, -2, -1, 1, 1, -1};
  const std::vector<int32_t> codes = codebook_argmax(book, 4, 2, z);
  EXPECT_EQ(codes, (std::vector<int32_t>{2, 1, 0}));
  const FeatureMap back = codebook_lookup(book, 2, codes, 1, 3);
  EXPECT_EQ(back.data, (std::vector<float>{10, 0, 1, 10, 1, 0}));
}

TEST(Codebook, TiledArgmaxMatchesBruteForce) {
  // Enough positions that the codebook is processed in several tiles.
  const int dim = 8, n_embed = 300;
  const FeatureMap z = random_map(dim, 256, 256, 21);
  std::vector<float> book(size_t(n_embed) * dim);
  std::mt19937 rng(5);
  std::normal_distribution<float> d;
  for (float& v : book) v = d(rng);
  const std::vector<int32_t> codes = codebook_argmax(book, n_embed, dim, z);
  const size_t n = z.plane();
  size_t mismatches = 0;
  for (size_t p = 0; p < n; p += 97) {
    double best = -1e300;
    int bi = 0;
    for (int k = 0; k < n_embed; ++k) {
      double s = 0;
      for (int c = 0; c < dim; ++c) s += double(z.data[size_t(c) * n + p]) * book[size_t(k) * dim + c];
      if (s > best) best = s, bi = k;
    }
    mismatches += codes[p] != bi;
  }
  EXPECT_EQ(mismatches, 0u);
}

}  // namespace
}  // namespace emu35::vq
