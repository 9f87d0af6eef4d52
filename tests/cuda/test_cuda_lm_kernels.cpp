// Each transformer kernel against the CPU backend's own operations, on fresh
// random inputs at several sizes (the real ones included): float32 to
// rounding, bf16 within its precision.
#include <gtest/gtest.h>

#ifdef EMU35_HAVE_CUDA
#include <cmath>

#include "cuda/lm_gemm.h"
#include "cuda/lm_gemv.h"
#include "cuda/lm_kernels.h"
#include "lm/cpu_ops.h"
#include "test_cuda_lm_util.h"

namespace emu35::cuda_lm_test {
namespace {

using cuda::ActType;
namespace lmk = cuda::lmk;

TEST(CudaLmKernels, AddRmsNormMatchesCpu) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  const float eps = 1e-6f;
  for (int H : {44, 256, 5120})
    for (int T : {1, 3, 17})
      for (bool with_delta : {false, true})
        for (bool bf16 : {false, true}) {
          SCOPED_TRACE("H " + std::to_string(H) + " T " + std::to_string(T) + (with_delta ? " +delta" : "") +
                       (bf16 ? " bf16" : " fp32"));
          const size_t n = size_t(T) * H;
          std::vector<float> x = randn(n, seed + 1, 2.0f), d = randn(n, seed + 2), w = randn(size_t(H), seed + 3, 0.3f);
          for (float& v : w) v += 1.0f;
          DeviceArray<float> dx(x), dd(d), dw(w), out(n);
          lmk::add_rmsnorm(dx.get(), with_delta ? dd.get() : nullptr, dw.get(), out.get(),
                           bf16 ? ActType::BF16 : ActType::F32, T, H, eps, nullptr);
          std::vector<float> xr = x, yr(n);
          for (int t = 0; t < T; ++t) {
            if (with_delta) lm::add_inplace(xr.data() + size_t(t) * H, d.data() + size_t(t) * H, H);
            lm::rmsnorm(xr.data() + size_t(t) * H, w.data(), yr.data() + size_t(t) * H, H, eps);
          }
          EXPECT_EQ(dx.download(), xr);  // the residual add is one float32 addition
          const std::vector<float> y = download_act(out.get(), n, bf16);
          EXPECT_LE(rel_err(y, yr), bf16 ? 1e-2 : 1e-6);
        }
}

// K/V cache of one segment: [layer][K, V][kv head][cap][hd] floats (host mirror).
struct HostCache {
  int layers, nkv, cap, hd;
  std::vector<float> v;
  float* at(int layer, int kv, int g, int pos) {
    return v.data() + ((size_t(layer) * 2 + kv) * nkv + g) * size_t(cap) * hd + size_t(pos) * hd;
  }
};

TEST(CudaLmKernels, QkNormRopeWritesQAndCacheLikeCpu) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  struct Shape {
    int nh, nkv, hd;
  };
  for (Shape s : {Shape{4, 2, 18}, Shape{4, 2, 64}, Shape{64, 8, 128}})
    for (bool bf16 : {false, true}) {
      SCOPED_TRACE("heads " + std::to_string(s.nh) + "/" + std::to_string(s.nkv) + " hd " + std::to_string(s.hd) +
                   (bf16 ? " bf16" : " fp32"));
      const int layers = 2, layer = 1, cap = 160, maxpos = 200, T = 5, half = s.hd / 2;
      const float eps = 1e-6f;
      const int row = (s.nh + 2 * s.nkv) * s.hd;
      std::vector<float> qkv = randn(size_t(T) * row, seed + 5, 1.5f);
      std::vector<float> qn = randn(size_t(s.hd), seed + 6, 0.2f), kn = randn(size_t(s.hd), seed + 7, 0.2f);
      for (float& v : qn) v += 1.0f;
      for (float& v : kn) v += 1.0f;
      const lm::Rope rope(s.hd, 1e6);
      std::vector<float> cs(size_t(maxpos) * half), sn(size_t(maxpos) * half);
      for (int p = 0; p < maxpos; ++p) rope.angles(p, cs.data() + size_t(p) * half, sn.data() + size_t(p) * half);
      const size_t es = bf16 ? 2 : 4;
      const size_t cache_elems = size_t(layers) * 2 * s.nkv * cap * s.hd;
      DeviceArray<uint8_t> c0(cache_elems * es), c1(cache_elems * es);
      // Two segments: tokens 0-2 at positions 7-9 of cache c0, tokens 3-4 at 100-101 of c1.
      std::vector<cuda::SegMeta> segs = {{c0.get(), cap, 0, 3, 7}, {c1.get(), cap, 3, 2, 100}};
      std::vector<cuda::TokMeta> toks = {{7, 0}, {8, 0}, {9, 0}, {100, 1}, {101, 1}};
      DeviceArray<float> dqkv(qkv), dqn(qn), dkn(kn), dcs(cs), dsn(sn);
      DeviceArray<cuda::TokMeta> dtoks(toks);
      DeviceArray<cuda::SegMeta> dsegs(segs);
      DeviceArray<float> qout(size_t(T) * s.nh * s.hd);
      lmk::qk_norm_rope(dqkv.get(), T, dtoks.get(), dsegs.get(), dqn.get(), dkn.get(), dcs.get(), dsn.get(), s.nh,
                        cuda::KvLayout{layers, s.nkv, s.hd}, layer, eps, qout.get(),
                        bf16 ? ActType::BF16 : ActType::F32, nullptr);

      std::vector<float> q_ref(size_t(T) * s.nh * s.hd);
      HostCache ref[2] = {{layers, s.nkv, cap, s.hd, std::vector<float>(cache_elems, 0.0f)},
                          {layers, s.nkv, cap, s.hd, std::vector<float>(cache_elems, 0.0f)}};
      for (int t = 0; t < T; ++t) {
        const int pos = toks[size_t(t)].pos;
        std::vector<float> c(static_cast<size_t>(half)), sv(static_cast<size_t>(half));
        rope.angles(pos, c.data(), sv.data());
        const float* src = qkv.data() + size_t(t) * row;
        for (int h = 0; h < s.nh; ++h) {
          float* dst = q_ref.data() + (size_t(t) * s.nh + h) * s.hd;
          lm::rmsnorm(src + size_t(h) * s.hd, qn.data(), dst, s.hd, eps);
          lm::Rope::apply(dst, c.data(), sv.data(), half);
        }
        HostCache& hc = ref[toks[size_t(t)].seg];
        for (int g = 0; g < s.nkv; ++g) {
          float* kd = hc.at(layer, 0, g, pos);
          lm::rmsnorm(src + size_t(s.nh + g) * s.hd, kn.data(), kd, s.hd, eps);
          lm::Rope::apply(kd, c.data(), sv.data(), half);
          std::copy_n(src + size_t(s.nh + s.nkv + g) * s.hd, s.hd, hc.at(layer, 1, g, pos));
        }
      }
      const double tol = bf16 ? 1e-2 : 1e-5;
      EXPECT_LE(rel_err(download_act(qout.get(), q_ref.size(), bf16), q_ref), tol);
      EXPECT_LE(rel_err(download_act(c0.get(), cache_elems, bf16), ref[0].v), tol);
      EXPECT_LE(rel_err(download_act(c1.get(), cache_elems, bf16), ref[1].v), tol);
    }
}

TEST(CudaLmKernels, SwiGluMatchesCpu) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  for (auto [T, I] : {std::pair{3, 90}, std::pair{2, 25600}, std::pair{17, 512}})
    for (bool bf16 : {false, true}) {
      std::vector<float> gu = randn(size_t(T) * 2 * I, seed + size_t(I), 3.0f);
      DeviceArray<float> dgu(gu), out(size_t(T) * I);
      lmk::swiglu(dgu.get(), T, I, out.get(), bf16 ? ActType::BF16 : ActType::F32, nullptr);
      std::vector<float> ref(size_t(T) * I);
      for (int t = 0; t < T; ++t) {
        std::vector<float> g(gu.begin() + size_t(t) * 2 * I, gu.begin() + size_t(t) * 2 * I + I);
        lm::silu_mul(g.data(), gu.data() + size_t(t) * 2 * I + I, I);
        std::copy(g.begin(), g.end(), ref.begin() + size_t(t) * I);
      }
      EXPECT_LE(rel_err(download_act(out.get(), ref.size(), bf16), ref), bf16 ? 1e-2 : 1e-6)
          << "T " << T << " I " << I << (bf16 ? " bf16" : " fp32");
    }
}

TEST(CudaLmKernels, EmbeddingAndRowGatherAreExact) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  const int V = 300, H = 72, T = 6;
  const std::vector<float> table = bf16_round(randn(size_t(V) * H, seed));
  const std::vector<int32_t> ids = some_ids(T, seed + 1, V);
  DeviceArray<uint16_t> tb(to_bf16(table));
  DeviceArray<float> tf(table);
  DeviceArray<int32_t> dids(ids);
  std::vector<float> ref(size_t(T) * H);
  for (int t = 0; t < T; ++t) std::copy_n(table.begin() + size_t(ids[size_t(t)]) * H, H, ref.begin() + size_t(t) * H);
  for (DType dt : {DType::BF16, DType::F32}) {
    DeviceArray<float> x(size_t(T) * H);
    lmk::embed(dids.get(), T, dt == DType::BF16 ? static_cast<const void*>(tb.get()) : tf.get(), dt, H, x.get(),
               nullptr);
    EXPECT_EQ(x.download(), ref) << dtype_name(dt);
  }
  // Rows already gathered on the host: ids == nullptr.
  DeviceArray<float> x(size_t(T) * H), rows(ref);
  lmk::embed(nullptr, T, rows.get(), DType::F32, H, x.get(), nullptr);
  EXPECT_EQ(x.download(), ref);
  // gather_rows picks rows by index.
  const std::vector<int32_t> pick = {5, 0, 3};
  DeviceArray<int32_t> dpick(pick);
  DeviceArray<float> g(pick.size() * H);
  lmk::gather_rows(rows.get(), dpick.get(), 3, H, ActType::F32, g.get(), nullptr);
  std::vector<float> gref;
  for (int r : pick) gref.insert(gref.end(), ref.begin() + size_t(r) * H, ref.begin() + size_t(r + 1) * H);
  EXPECT_EQ(g.download(), gref);
}

// y = x W^T in double from the values the device sees.
std::vector<float> matmul_ref(const std::vector<float>& x, int M, const std::vector<float>& w, int64_t N, int64_t K) {
  std::vector<float> y(size_t(M) * size_t(N));
  for (int m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      const float* xr = x.data() + size_t(m) * K;
      const float* wr = w.data() + size_t(n) * K;
      for (int64_t k = 0; k < K; ++k) s += double(xr[k]) * double(wr[k]);
      y[size_t(m) * N + n] = float(s);
    }
  return y;
}

struct GemmCase {
  int M;
  int64_t N, K;
};

// Runs one path; y has row stride N + 3 with a sentinel in the gaps, which must survive.
std::vector<float> run_gemm(cuda::GemmEngine& g, int path, const std::vector<float>& x, int M,
                            const std::vector<float>& w, int64_t N, int64_t K, bool bf16) {
  const int64_t ldy = N + 3;
  const float sentinel = 12345.0f;
  DeviceArray<float> y(std::vector<float>(size_t(M) * ldy, sentinel));
  std::unique_ptr<DeviceArray<uint16_t>> xb, wb;
  std::unique_ptr<DeviceArray<float>> xf, wf;
  cuda::DevMatrix dm;
  const void* xp;
  if (bf16) {
    xb = std::make_unique<DeviceArray<uint16_t>>(to_bf16(x));
    wb = std::make_unique<DeviceArray<uint16_t>>(to_bf16(w));
    dm = {wb->get(), ActType::BF16, N, K};
    xp = xb->get();
  } else {
    xf = std::make_unique<DeviceArray<float>>(x);
    wf = std::make_unique<DeviceArray<float>>(w);
    dm = {wf->get(), ActType::F32, N, K};
    xp = xf->get();
  }
  if (path == 0)
    g.matmul(xp, M, dm, y.get(), ldy, nullptr);
  else if (path == 1)
    g.matmul_streaming(xp, M, dm, y.get(), ldy, nullptr);
  else
    g.matmul_cublaslt(xp, M, dm, y.get(), ldy, nullptr);
  const std::vector<float> all = y.download();
  std::vector<float> out(size_t(M) * N);
  for (int m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) out[size_t(m) * N + n] = all[size_t(m) * ldy + n];
    for (int64_t n = N; n < ldy; ++n) EXPECT_EQ(all[size_t(m) * ldy + n], sentinel) << "row " << m << " col " << n;
  }
  return out;
}

TEST(CudaLmKernels, GemmPathsMatchDoubleReference) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  cuda::GemmEngine g;
  // float32 through cuBLASLt (no TF32): float rounding only.
  for (GemmCase c : {GemmCase{1, 37, 44}, GemmCase{5, 300, 256}, GemmCase{33, 1000, 64}, GemmCase{2, 5120, 512}}) {
    SCOPED_TRACE("fp32 M " + std::to_string(c.M) + " N " + std::to_string(c.N) + " K " + std::to_string(c.K));
    const auto x = randn(size_t(c.M) * c.K, seed + 1), w = randn(size_t(c.N) * c.K, seed + 2, 0.05f);
    EXPECT_LE(rel_err(run_gemm(g, 0, x, c.M, w, c.N, c.K, false), matmul_ref(x, c.M, w, c.N, c.K)), 1e-5);
  }
  // bf16 inputs (exactly representable), float32 accumulation: both paths.
  for (GemmCase c :
       {GemmCase{1, 1, 8}, GemmCase{2, 37, 64}, GemmCase{8, 300, 256}, GemmCase{9, 17, 520}, GemmCase{16, 1000, 25600},
        GemmCase{2, 282926, 64}, GemmCase{2, 10240, 5120}, GemmCase{16, 5120, 1024}, GemmCase{3, 130, 8200},
        GemmCase{5, 5120, 25600}, GemmCase{7, 33, 1032}, GemmCase{4, 2, 8}}) {
    SCOPED_TRACE("bf16 M " + std::to_string(c.M) + " N " + std::to_string(c.N) + " K " + std::to_string(c.K));
    const auto x = bf16_round(randn(size_t(c.M) * c.K, seed + 3)),
               w = bf16_round(randn(size_t(c.N) * c.K, seed + 4, 0.05f));
    const auto ref = matmul_ref(x, c.M, w, c.N, c.K);
    if (lmk::gemv_supported(c.M, c.K)) {
      EXPECT_LE(rel_err(run_gemm(g, 1, x, c.M, w, c.N, c.K, true), ref), 1e-4) << "streaming";
    }
    EXPECT_LE(rel_err(run_gemm(g, 2, x, c.M, w, c.N, c.K, true), ref), 1e-4) << "cuBLASLt";
    EXPECT_LE(rel_err(run_gemm(g, 0, x, c.M, w, c.N, c.K, true), ref), 1e-4) << "default path";
  }
  // bf16 shapes the streaming kernel does not take (K not a multiple of 8, M > 8) go to cuBLASLt.
  for (GemmCase c : {GemmCase{2, 300, 44}, GemmCase{33, 500, 512}}) {
    const auto x = bf16_round(randn(size_t(c.M) * c.K, seed + 5)),
               w = bf16_round(randn(size_t(c.N) * c.K, seed + 6, 0.05f));
    EXPECT_LE(rel_err(run_gemm(g, 0, x, c.M, w, c.N, c.K, true), matmul_ref(x, c.M, w, c.N, c.K)), 1e-4);
  }
}

TEST(CudaLmKernels, StreamingGemmRowsDoNotDependOnTheBatch) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  cuda::GemmEngine g;
  for (GemmCase c : {GemmCase{8, 5120, 8192}, GemmCase{8, 777, 256}}) {
    const auto x = bf16_round(randn(size_t(c.M) * c.K, seed + 7)),
               w = bf16_round(randn(size_t(c.N) * c.K, seed + 8, 0.05f));
    const auto all = run_gemm(g, 1, x, c.M, w, c.N, c.K, true);
    for (int M : {1, 2, 3, 7}) {
      const auto some =
          run_gemm(g, 1, std::vector<float>(x.begin(), x.begin() + size_t(M) * c.K), M, w, c.N, c.K, true);
      EXPECT_EQ(some, std::vector<float>(all.begin(), all.begin() + size_t(M) * c.N)) << "M " << M;
    }
    EXPECT_EQ(run_gemm(g, 1, x, c.M, w, c.N, c.K, true), all);  // and the same call twice, the same bits
  }
}

// The fused epilogues against "product, then the separate kernel": x += x W^T
// is one float32 addition per element on top of the Store result, and SwiGLU
// is lmk::swiglu applied to the Store result. Launching with programmatic
// dependent launch changes nothing.
TEST(CudaLmKernels, StreamingGemmEpiloguesMatchSeparateKernels) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  for (GemmCase c : {GemmCase{2, 5120, 8192}, GemmCase{1, 6, 16}, GemmCase{8, 998, 1032}, GemmCase{3, 51200, 512}}) {
    SCOPED_TRACE("M " + std::to_string(c.M) + " N " + std::to_string(c.N) + " K " + std::to_string(c.K));
    const auto x = bf16_round(randn(size_t(c.M) * c.K, seed + 9)),
               w = bf16_round(randn(size_t(c.N) * c.K, seed + 10, 0.05f));
    const auto resid = randn(size_t(c.M) * c.N, seed + 11, 3.0f);
    DeviceArray<uint16_t> xb(to_bf16(x)), wb(to_bf16(w));
    for (bool pdl : {false, true}) {
      SCOPED_TRACE(pdl ? "pdl" : "plain launch");
      lmk::GemvArgs a;
      a.x = xb.get();
      a.M = c.M;
      a.w = wb.get();
      a.N = c.N;
      a.K = c.K;
      a.pdl = pdl;
      DeviceArray<float> plain(size_t(c.M) * c.N), acc(resid);
      a.y = plain.get();
      a.ldy = c.N;
      lmk::gemv_bf16(a, nullptr);
      a.epilogue = lmk::GemvEpilogue::Accumulate;
      a.y = acc.get();
      lmk::gemv_bf16(a, nullptr);
      const std::vector<float> prod = plain.download();
      EXPECT_LE(rel_err(prod, matmul_ref(x, c.M, w, c.N, c.K)), 1e-4);
      std::vector<float> want = resid;
      for (size_t i = 0; i < want.size(); ++i) want[i] += prod[i];
      EXPECT_EQ(acc.download(), want);

      const int I = int(c.N / 2);
      DeviceArray<uint16_t> fused(size_t(c.M) * I), sep(size_t(c.M) * I);
      a.epilogue = lmk::GemvEpilogue::SwiGLU;
      a.y = nullptr;
      a.act = fused.get();
      lmk::gemv_bf16(a, nullptr);
      lmk::swiglu(plain.get(), c.M, I, sep.get(), ActType::BF16, nullptr);
      EXPECT_EQ(fused.download(), sep.download());
    }
  }
  // Bad arguments are errors, not silent garbage.
  lmk::GemvArgs bad;
  bad.M = 9;
  bad.K = 64;
  bad.N = 4;
  EXPECT_THROW(lmk::gemv_bf16(bad, nullptr), Error);
  bad.M = 2;
  bad.K = 60;
  EXPECT_THROW(lmk::gemv_bf16(bad, nullptr), Error);
  bad.K = 64;
  bad.epilogue = lmk::GemvEpilogue::SwiGLU;
  EXPECT_THROW(lmk::gemv_bf16(bad, nullptr), Error);  // no output
}

}  // namespace
}  // namespace emu35::cuda_lm_test

#else
TEST(CudaLmKernels, SkippedWithoutCuda) { GTEST_SKIP() << "built without the CUDA backend"; }
#endif
