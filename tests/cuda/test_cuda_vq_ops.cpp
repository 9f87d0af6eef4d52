// Each IBQ GPU building block against its CPU counterpart (src/vq) on fresh
// random inputs at several sizes: exact float32 within 1e-5 x max |ref|, the
// fast float32 convolutions (Winograd, FFT) within 1e-3, TF32 within 1e-2,
// integer results (codes, upsampling, lookups, pixels) exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <tuple>
#include <random>
#include <string>
#include <vector>

#include "cuda/vq_context.h"
#include "cuda/vq_device_map.h"
#include "cuda/vq_kernels.h"
#include "cuda/vq_layers.h"
#include "test_cuda_vq_util.h"
#include "vq/codebook.h"
#include "vq/cpu_conv.h"
#include "vq/cpu_layers.h"
#include "vq/ibq_model.h"

namespace emu35::cuda::ibq {
namespace {

using namespace vqtest;

// A conv's weights on the device, and the DConv view of them.
struct DevConv {
  DevBuffer w, b;
  DConv d;
  DevConv(GpuContext& ctx, const vq::Conv2d& c) : w(upload_vector(ctx, c.weight)), b(upload_vector(ctx, c.bias)) {
    d.cin = c.cin;
    d.cout = c.cout;
    d.k = c.k;
    d.weight = w.as<float>();
    d.bias = b.as<float>();
  }
};

struct ConvCase {
  int cin, cout, k, h, w;
};

// Restores exact math after a test that changed it.
struct MathScope {
  VqMath saved;
  explicit MathScope(VqMath m) : saved(gpu().math) { gpu().math = m; }
  ~MathScope() { gpu().math = saved; }
};

TEST(CudaVqOps, ConvSameMatchesCpu) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  const ConvCase cases[] = {
      {5, 7, 1, 9, 11},      // pointwise
      {3, 16, 3, 16, 16},    // conv_in
      {6, 4, 3, 7, 13},      // odd sides
      {64, 32, 3, 40, 40},   // K = 576
      {256, 64, 3, 12, 20},  // K = 2304: TF32 would show here
      {32, 3, 3, 33, 17},    // conv_out
  };
  uint32_t seed = 100;
  for (VqMath math : {VqMath::kExact, VqMath::kFastFp32, VqMath::kTf32}) {
    MathScope ms(math);
    for (const ConvCase& cc : cases) {
      SCOPED_TRACE(std::string(vq_math_name(math)) + " " + std::to_string(cc.cin) + "->" + std::to_string(cc.cout) +
                   " k" + std::to_string(cc.k) + " " + std::to_string(cc.h) + "x" + std::to_string(cc.w));
      const vq::Conv2d conv = random_conv(cc.cin, cc.cout, cc.k, seed++);
      const vq::FeatureMap x = random_map(cc.cin, cc.h, cc.w, seed++);
      const vq::FeatureMap res = random_map(cc.cout, cc.h, cc.w, seed++);
      vq::FeatureMap ref = vq::conv_same(x, conv);
      vq::FeatureMap ref_res = ref;
      vq::add_inplace(ref_res, res);
      DevConv dc(ctx, conv);
      const DevMap dx = upload(ctx, x), dres = upload(ctx, res);
      const double tol = math == VqMath::kTf32 ? 1e-2 : math == VqMath::kFastFp32 ? 1e-3 : 1e-5;
      EXPECT_LE(rel_err(download(ctx, conv_same(ctx, dx, dc.d)), ref), tol);
      EXPECT_LE(rel_err(download(ctx, conv_same(ctx, dx, dc.d, &dres)), ref_res), tol);
    }
  }
}

TEST(CudaVqOps, DownsampleMatchesCpu) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  const ConvCase cases[] = {{8, 8, 3, 16, 12}, {4, 4, 3, 9, 7}, {64, 64, 3, 32, 32}, {32, 32, 3, 2, 2}};
  uint32_t seed = 200;
  for (const ConvCase& cc : cases) {
    SCOPED_TRACE(std::to_string(cc.cin) + " " + std::to_string(cc.h) + "x" + std::to_string(cc.w));
    const vq::Conv2d conv = random_conv(cc.cin, cc.cout, cc.k, seed++);
    const vq::FeatureMap x = random_map(cc.cin, cc.h, cc.w, seed++);
    const vq::FeatureMap ref = vq::conv_downsample(x, conv);
    DevConv dc(ctx, conv);
    EXPECT_LE(rel_err(download(ctx, conv_downsample(ctx, upload(ctx, x), dc.d)), ref), 1e-5);
  }
}

TEST(CudaVqOps, GroupNormMatchesCpu) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  struct Case {
    int c, h, w;
    float offset;  // a large mean stresses the variance computation
  };
  const Case cases[] = {{64, 8, 8, 0}, {96, 13, 7, 0}, {256, 64, 64, 0}, {32, 1, 1, 0}, {128, 100, 100, 50.0f},
                        {64, 3, 5, -1000.0f}};
  uint32_t seed = 300;
  for (const Case& cs : cases) {
    for (bool swish : {false, true}) {
      SCOPED_TRACE(std::to_string(cs.c) + " " + std::to_string(cs.h) + "x" + std::to_string(cs.w) + " offset " +
                   std::to_string(cs.offset) + (swish ? " swish" : ""));
      const vq::FeatureMap x = random_map(cs.c, cs.h, cs.w, seed++, cs.offset - 2.0f, cs.offset + 2.0f);
      const std::vector<float> gamma = random_vector(size_t(cs.c), seed++, 0.5f, 1.5f);
      const std::vector<float> beta = random_vector(size_t(cs.c), seed++);
      const vq::FeatureMap ref = vq::group_norm(x, gamma, beta, 32, 1e-6f, swish);
      const DevBuffer g = upload_vector(ctx, gamma), b = upload_vector(ctx, beta);
      DNorm n;
      n.channels = cs.c;
      n.gamma = g.as<float>();
      n.beta = b.as<float>();
      EXPECT_LE(rel_err(download(ctx, group_norm(ctx, upload(ctx, x), n, 32, 1e-6f, swish)), ref), 1e-5);
    }
  }
}

TEST(CudaVqOps, UpsampleIsExact) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  for (auto [c, h, w] : {std::tuple{3, 1, 1}, std::tuple{5, 7, 3}, std::tuple{64, 32, 32}}) {
    const vq::FeatureMap x = random_map(c, h, w, uint32_t(400 + c));
    const vq::FeatureMap ref = vq::upsample_nearest2x(x);
    const vq::FeatureMap got = download(ctx, upsample_nearest2x(ctx, upload(ctx, x)));
    EXPECT_EQ(got.c, ref.c);
    EXPECT_EQ(got.h, ref.h);
    EXPECT_EQ(got.w, ref.w);
    EXPECT_EQ(got.data, ref.data);
  }
}

// The channels-last transposes of the TF32 convolutions move values exactly,
// around the 32x32 tile edges and in batches (filters).
TEST(CudaVqOps, TransposeIsExact) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  for (auto [batch, rows, cols] : {std::tuple{1, 1, 1}, std::tuple{1, 33, 31}, std::tuple{3, 64, 9},
                                   std::tuple{2, 7, 1000}, std::tuple{1, 4097, 3}}) {
    SCOPED_TRACE(std::to_string(batch) + " x " + std::to_string(rows) + " x " + std::to_string(cols));
    const size_t mat = size_t(rows) * cols;
    std::vector<float> in(size_t(batch) * mat);
    for (size_t i = 0; i < in.size(); ++i) in[i] = float(i) * 0.5f - 7.0f;
    const DevBuffer din = upload_vector(ctx, in);
    DevBuffer dout(ctx, in.size() * sizeof(float));
    transpose_batched(din.as<float>(), dout.as<float>(), batch, size_t(rows), size_t(cols), ctx.stream());
    const std::vector<float> got = download_vector<float>(ctx, dout, in.size());
    std::vector<float> want(in.size());
    for (int b = 0; b < batch; ++b)
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) want[b * mat + size_t(c) * rows + r] = in[b * mat + size_t(r) * cols + c];
    EXPECT_EQ(got, want);
  }
}

TEST(CudaVqOps, AttentionMatchesCpu) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  struct Case {
    int c, h, w;
    size_t max_scores;  // small values force several query tiles
  };
  const Case cases[] = {{8, 4, 4, size_t(64) << 20},  {32, 16, 16, size_t(64) << 20}, {64, 20, 15, size_t(64) << 20},
                        {64, 20, 15, 300 * 64},       {16, 1, 1, size_t(64) << 20},   {128, 32, 32, 1024 * 200},
                        {48, 9, 37, 333 * 100}};
  uint32_t seed = 500;
  for (VqMath math : {VqMath::kExact, VqMath::kTf32}) {
    MathScope ms(math);
    for (const Case& cs : cases) {
      SCOPED_TRACE(std::string(vq_math_name(math)) + " C " + std::to_string(cs.c) + " " + std::to_string(cs.h) + "x" +
                   std::to_string(cs.w) + " max_scores " + std::to_string(cs.max_scores));
      // Spread like real q/k: scores of a few units.
      const vq::FeatureMap q = random_map(cs.c, cs.h, cs.w, seed++, -2, 2);
      const vq::FeatureMap k = random_map(cs.c, cs.h, cs.w, seed++, -2, 2);
      const vq::FeatureMap v = random_map(cs.c, cs.h, cs.w, seed++);
      const vq::FeatureMap ref = vq::spatial_attention(q, k, v);
      const vq::FeatureMap got =
          download(ctx, spatial_attention(ctx, upload(ctx, q), upload(ctx, k), upload(ctx, v), cs.max_scores));
      EXPECT_LE(rel_err(got, ref), math == VqMath::kTf32 ? 1e-2 : 1e-5);
    }
  }
}

TEST(CudaVqOps, SoftmaxRowsMatchesDoubleReference) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  for (auto [rows, n] : {std::pair{1, 1}, std::pair{3, 1000}, std::pair{17, 4097}, std::pair{2, 70000}}) {
    std::vector<float> s = random_vector(size_t(rows) * size_t(n), uint32_t(600 + n), -30, 30);
    DevBuffer d = upload_vector(ctx, s);
    softmax_rows(d.as<float>(), rows, n, ctx.stream());
    const std::vector<float> got = download_vector<float>(ctx, d, s.size());
    for (int r = 0; r < rows; ++r) {
      const float* x = s.data() + size_t(r) * n;
      const double mx = *std::max_element(x, x + n);
      double sum = 0;
      for (int j = 0; j < n; ++j) sum += std::exp(double(x[j]) - mx);
      double err = 0;
      for (int j = 0; j < n; ++j)
        err = std::max(err, std::abs(double(got[size_t(r) * n + j]) - std::exp(double(x[j]) - mx) / sum));
      EXPECT_LE(err, 1e-6) << rows << "x" << n << " row " << r;  // probabilities: absolute error
    }
  }
}

TEST(CudaVqOps, GemmMatchesDoubleReference) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  uint32_t seed = 700;
  for (auto [m, n, k] : {std::tuple{1, 1, 1}, std::tuple{37, 19, 53}, std::tuple{128, 64, 256}}) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const int lda = (ta ? k : m) + 3, ldb = (tb ? n : k) + 1, ldc = m + 2;
      const std::vector<float> a = random_vector(size_t(lda) * size_t(ta ? m : k), seed++);
      const std::vector<float> b = random_vector(size_t(ldb) * size_t(tb ? k : n), seed++);
      std::vector<float> c = random_vector(size_t(ldc) * size_t(n), seed++);
      DevBuffer da = upload_vector(ctx, a), db = upload_vector(ctx, b), dc = upload_vector(ctx, c);
      const float alpha = 0.75f, beta = 0.5f;
      ctx.gemm().run(ctx, ta, tb, m, n, k, alpha, da.as<float>(), lda, db.as<float>(), ldb, beta, dc.as<float>(), ldc,
                     false);
      const std::vector<float> got = download_vector<float>(ctx, dc, c.size());
      double max_err = 0, max_ref = 0;
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
          double s = 0;
          for (int p = 0; p < k; ++p) {
            const double av = ta ? a[size_t(p) + size_t(i) * lda] : a[size_t(i) + size_t(p) * lda];
            const double bv = tb ? b[size_t(j) + size_t(p) * ldb] : b[size_t(p) + size_t(j) * ldb];
            s += av * bv;
          }
          const double ref = alpha * s + beta * c[size_t(i) + size_t(j) * ldc];
          max_ref = std::max(max_ref, std::abs(ref));
          max_err = std::max(max_err, std::abs(ref - got[size_t(i) + size_t(j) * ldc]));
        }
      EXPECT_LE(max_err / max_ref, 1e-6) << m << "x" << n << "x" << k << " ta " << ta << " tb " << tb;
      // Padding between columns is untouched.
      for (int j = 0; j < n; ++j)
        for (int i = m; i < ldc; ++i) EXPECT_EQ(got[size_t(i) + size_t(j) * ldc], c[size_t(i) + size_t(j) * ldc]);
    }
  }
}

TEST(CudaVqOps, CodebookArgmaxEqualsCpu) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  struct Case {
    int n_embed, dim, h, w;
    size_t max_scores;
  };
  const Case cases[] = {{64, 32, 8, 8, size_t(64) << 20},  // the fixture's shape: one tile
                        {1000, 16, 9, 10, 90 * 128},        // 8 tiles, the last one partial
                        {4096, 256, 16, 16, size_t(64) << 20}, {300, 8, 1, 1, 64}};
  uint32_t seed = 800;
  for (const Case& cs : cases) {
    SCOPED_TRACE(std::to_string(cs.n_embed) + " codes of " + std::to_string(cs.dim));
    std::vector<float> book = random_vector(size_t(cs.n_embed) * size_t(cs.dim), seed++, -1.7f, 1.7f);
    vq::FeatureMap z = random_map(cs.dim, cs.h, cs.w, seed++, -3, 3);
    // Planted exact ties: for position p < 6, codes lo and hi (some in another
    // tile) are the same one-hot row 5 * e_p and z[:, p] = 10 * that row, so
    // both score 250 exactly (one nonzero term) and nothing else comes close.
    const int n = cs.h * cs.w;
    auto planted = [&](int p, int* lo, int* hi) {
      *lo = (p * 97) % (cs.n_embed / 2);
      *hi = cs.n_embed - 1 - p;
      return p < std::min(n, 6) && *hi > *lo && p < cs.dim;
    };
    for (int p = 0; p < 6; ++p) {
      int lo = 0, hi = 0;
      if (!planted(p, &lo, &hi)) continue;
      for (int d = 0; d < cs.dim; ++d) {
        const float v = d == p ? 5.0f : 0.0f;
        book[size_t(lo) * cs.dim + d] = book[size_t(hi) * cs.dim + d] = v;
        z.data[size_t(d) * n + p] = 10.0f * v;
      }
    }
    const std::vector<int32_t> ref = vq::codebook_argmax(book, cs.n_embed, cs.dim, z);
    DevBuffer db = upload_vector(ctx, book);
    DevBuffer codes = codebook_argmax(ctx, db.as<float>(), cs.n_embed, cs.dim, upload(ctx, z), cs.max_scores);
    const std::vector<int32_t> got = download_vector<int32_t>(ctx, codes, size_t(n));
    EXPECT_EQ(got, ref);
    for (int p = 0; p < 6; ++p) {
      int lo = 0, hi = 0;
      if (planted(p, &lo, &hi)) {
        EXPECT_EQ(got[size_t(p)], lo) << "tie at position " << p;
      }
    }
  }
}

TEST(CudaVqOps, ArgmaxUpdateTakesTheFirstMaximumAcrossTiles) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  // Small integers: ties everywhere, within and across tiles.
  const int positions = 37, total = 1000;
  std::mt19937 rng(900);
  std::uniform_int_distribution<int> d(0, 5);
  std::vector<float> s(size_t(positions) * total);
  for (float& v : s) v = float(d(rng));
  s[5 * total + 999] = 9;  // a unique maximum in the last column
  for (int j = 0; j < total; ++j) s[7 * total + j] = -INFINITY;
  s[7 * total + 500] = -1e30f;
  DevBuffer ds = upload_vector(ctx, s);
  DevBuffer val(ctx, positions * sizeof(float)), idx(ctx, positions * sizeof(int32_t));
  for (int tile : {1000, 300, 64, 1}) {
    for (int j0 = 0; j0 < total; j0 += tile)
      argmax_update(ds.as<float>() + j0, positions, std::min(tile, total - j0), total, j0, j0 == 0, val.as<float>(),
                    idx.as<int32_t>(), ctx.stream());
    const std::vector<int32_t> got = download_vector<int32_t>(ctx, idx, positions);
    for (int p = 0; p < positions; ++p) {
      const float* row = s.data() + size_t(p) * total;
      const int want = int(std::max_element(row, row + total) - row);  // first maximum
      EXPECT_EQ(got[size_t(p)], want) << "tile " << tile << " position " << p;
    }
  }
}

TEST(CudaVqOps, CodebookLookupIsExact) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  const int n_embed = 500, dim = 24, h = 7, w = 9;
  const std::vector<float> book = random_vector(size_t(n_embed) * dim, 1000);
  std::vector<int32_t> codes(size_t(h) * w);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = int32_t((i * 131 + 7) % n_embed);
  codes[0] = n_embed - 1;
  const vq::FeatureMap ref = vq::codebook_lookup(book, dim, codes, h, w);
  DevBuffer db = upload_vector(ctx, book), dc = upload_vector(ctx, codes);
  const vq::FeatureMap got = download(ctx, codebook_lookup(ctx, db.as<float>(), dim, dc.as<int32_t>(), h, w));
  EXPECT_EQ(got.data, ref.data);
}

TEST(CudaVqOps, PixelConversionsAreBitExact) {
  EMU35_SKIP_WITHOUT_GPU();
  GpuContext& ctx = gpu();
  // In: every byte value appears.
  Image img = Image::blank(37, 23);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t((i * 7) % 256);
  const vq::FeatureMap ref = vq::IbqModel::pixels_from_image(img);
  DevBuffer rgb = upload_vector(ctx, img.rgb);
  DevMap x(ctx, 3, img.height, img.width);
  pixels_from_rgb8(rgb.as<uint8_t>(), x.data(), x.plane(), ctx.stream());
  EXPECT_EQ(download(ctx, x).data, ref.data);

  // Out: out-of-range values, NaN, infinities, values at and near level edges.
  vq::FeatureMap f = random_map(3, 29, 31, 1100, -1.5f, 1.5f);
  const float special[] = {-1.0f, 1.0f, 0.0f, -0.0f, std::nanf(""), INFINITY, -INFINITY, 2.0f / 255.0f - 1.0f,
                           std::nextafter(1.0f / 127.5f - 1.0f, 0.0f), 1.0f / 127.5f - 1.0f, 0.99999994f};
  for (size_t i = 0; i < std::size(special); ++i) f.data[i * 5] = special[i];
  const Image ref_img = vq::IbqModel::image_from_float(f);
  DevMap df = upload(ctx, f);
  DevBuffer out(ctx, df.plane() * 3);
  rgb8_from_pixels(df.data(), out.as<uint8_t>(), df.plane(), ctx.stream());
  EXPECT_EQ(download_vector<uint8_t>(ctx, out, df.plane() * 3), ref_img.rgb);
}

}  // namespace
}  // namespace emu35::cuda::ibq
