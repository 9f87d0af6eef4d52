// The attention kernels against the CPU's attend() on random caches: split-K
// decode for many context lengths and split counts (tensor-core and scalar
// kernels), with and without programmatic dependent launch, tensor-core
// prefill for segments around the tile sizes, GQA groups of 1, 2 and 8, the
// real head shape (64 x 128, 8 KV heads) with 2 and 16 decode tokens included.
#include <gtest/gtest.h>

#ifdef EMU35_HAVE_CUDA
#include <cmath>

#include "cuda/lm_attention.h"
#include "cuda/lm_device_memory.h"
#include "lm/cpu_ops.h"
#include "test_cuda_lm_util.h"

namespace emu35::cuda_lm_test {
namespace {

using cuda::ActType;
namespace lmk = cuda::lmk;

// One sequence's cache for one layer of interest, plus the device copy.
struct Seq {
  int cap, len;           // positions held after this pass
  std::vector<float> kv;  // [layers][K, V][nkv][cap][hd], values as the device holds them
  std::unique_ptr<DeviceArray<uint8_t>> dev;
};

struct Problem {
  int nh = 0, nkv = 0, hd = 0, layers = 2, layer = 1;
  bool bf16 = false;
  std::vector<Seq> seqs;
  std::vector<cuda::SegMeta> segs;
  std::vector<cuda::TokMeta> toks;
  std::vector<float> q;  // [T][nh][hd] as the device holds it

  size_t cache_elems(int cap) const { return size_t(layers) * 2 * nkv * cap * hd; }
  const float* k_at(const Seq& s, int g) const {
    return s.kv.data() + ((size_t(layer) * 2 + 0) * nkv + g) * size_t(s.cap) * hd;
  }
  const float* v_at(const Seq& s, int g) const {
    return s.kv.data() + ((size_t(layer) * 2 + 1) * nkv + g) * size_t(s.cap) * hd;
  }
};

// Segments: (tokens in this pass, positions already cached before them).
Problem make_problem(int nh, int nkv, int hd, bool bf16, const std::vector<std::pair<int, int>>& segs, uint64_t seed) {
  Problem p;
  p.nh = nh;
  p.nkv = nkv;
  p.hd = hd;
  p.bf16 = bf16;
  int tok = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    const auto [ntok, before] = segs[i];
    Seq s;
    s.len = before + ntok;
    s.cap = s.len + 5;
    s.kv = randn(p.cache_elems(s.cap), seed + 11 * i, 1.0f);
    if (bf16) s.kv = bf16_round(s.kv);
    s.dev = std::make_unique<DeviceArray<uint8_t>>(p.cache_elems(s.cap) * (bf16 ? 2 : 4));
    if (bf16) {
      const auto b = to_bf16(s.kv);
      EMU35_CUDA_CHECK(cudaMemcpy(s.dev->get(), b.data(), b.size() * 2, cudaMemcpyHostToDevice));
    } else {
      EMU35_CUDA_CHECK(cudaMemcpy(s.dev->get(), s.kv.data(), s.kv.size() * 4, cudaMemcpyHostToDevice));
    }
    p.segs.push_back({s.dev->get(), s.cap, tok, ntok, before});
    for (int t = 0; t < ntok; ++t) p.toks.push_back({before + t, int(i)});
    tok += ntok;
    p.seqs.push_back(std::move(s));
  }
  p.q = randn(size_t(tok) * nh * hd, seed + 99, 1.0f);
  if (bf16) p.q = bf16_round(p.q);
  return p;
}

// CPU attention of every (token, head) over positions 0 .. pos.
std::vector<float> reference(const Problem& p) {
  const float scale = float(1.0 / std::sqrt(double(p.hd)));
  std::vector<float> out(p.q.size()), scores;
  for (size_t t = 0; t < p.toks.size(); ++t) {
    const Seq& s = p.seqs[size_t(p.toks[t].seg)];
    const int len = p.toks[t].pos + 1;
    scores.resize(static_cast<size_t>(len));
    for (int h = 0; h < p.nh; ++h) {
      const int g = h / (p.nh / p.nkv);
      lm::attend(p.q.data() + (t * p.nh + h) * p.hd, p.k_at(s, g), p.v_at(s, g), len, p.hd, scale, scores.data(),
                 out.data() + (t * p.nh + h) * p.hd);
    }
  }
  return out;
}

// With pdl, the attention runs twice back to back on one stream with
// programmatic dependent launch (the second's partials overwrite the
// workspace the first's combine reads); both outputs must agree, and the
// second is returned.
std::vector<float> run_decode(const Problem& p, int splits, bool subset_list, bool pdl = false) {
  const int T = int(p.toks.size());
  DeviceArray<cuda::TokMeta> toks(p.toks);
  DeviceArray<cuda::SegMeta> segs(p.segs);
  std::unique_ptr<DeviceArray<uint16_t>> qb;
  std::unique_ptr<DeviceArray<float>> qf;
  const void* q;
  if (p.bf16) {
    qb = std::make_unique<DeviceArray<uint16_t>>(to_bf16(p.q));
    q = qb->get();
  } else {
    qf = std::make_unique<DeviceArray<float>>(p.q);
    q = qf->get();
  }
  DeviceArray<float> ws(lmk::decode_workspace_floats(T, p.nh, p.hd, splits));
  DeviceArray<float> out(p.q.size());
  const cuda::KvLayout kvl{p.layers, p.nkv, p.hd};
  const float scale = float(1.0 / std::sqrt(double(p.hd)));
  const ActType at = p.bf16 ? ActType::BF16 : ActType::F32;
  if (pdl) {
    const cuda::Stream stream;
    DeviceArray<float> first(p.q.size());
    EMU35_CUDA_CHECK(cudaDeviceSynchronize());  // the arrays' memsets ran on the legacy stream
    for (float* o : {first.get(), out.get()})
      lmk::decode_attention(q, nullptr, T, toks.get(), segs.get(), p.nh, kvl, p.layer, scale, splits, ws.get(), o, at,
                            stream.get(), true);
    stream.synchronize();
    const auto a = download_act(first.get(), p.q.size(), p.bf16), b = download_act(out.get(), p.q.size(), p.bf16);
    EXPECT_EQ(a, b);
    return b;
  }
  if (!subset_list) {
    lmk::decode_attention(q, nullptr, T, toks.get(), segs.get(), p.nh, kvl, p.layer, scale, splits, ws.get(), out.get(),
                          at, nullptr);
  } else {  // the same tokens through an explicit list, in reverse order
    std::vector<int32_t> list;
    for (int t = T - 1; t >= 0; --t) list.push_back(t);
    DeviceArray<int32_t> dl(list);
    lmk::decode_attention(q, dl.get(), T, toks.get(), segs.get(), p.nh, kvl, p.layer, scale, splits, ws.get(),
                          out.get(), at, nullptr);
    EMU35_CUDA_CHECK(cudaDeviceSynchronize());
  }
  return download_act(out.get(), p.q.size(), p.bf16);
}

std::vector<float> run_prefill(const Problem& p) {
  DeviceArray<cuda::SegMeta> segs(p.segs);
  std::vector<int32_t> ids;
  int max_ntok = 0;
  for (size_t i = 0; i < p.segs.size(); ++i) {
    ids.push_back(int32_t(i));
    max_ntok = std::max(max_ntok, p.segs[i].ntok);
  }
  DeviceArray<int32_t> dids(ids);
  DeviceArray<uint16_t> q(to_bf16(p.q));
  DeviceArray<uint16_t> out(p.q.size());
  lmk::prefill_attention(q.get(), dids.get(), int(ids.size()), max_ntok, segs.get(), p.nh,
                         cuda::KvLayout{p.layers, p.nkv, p.hd}, p.layer, float(1.0 / std::sqrt(double(p.hd))),
                         out.get(), nullptr);
  return download_act(out.get(), p.q.size(), true);
}

TEST(CudaLmAttention, DecodeMatchesCpuForManyLengthsAndSplits) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  const int sms = cuda::device_sm_count();
  struct Shape {
    int nh, nkv, hd;
  };
  // bf16 with head_dim % 16 == 0 takes the tensor-core kernel (head_dim 16 ..
  // 256), everything else the scalar one (18: unaligned rows; 24: 16-byte rows;
  // float32 at 256: one stage).
  for (Shape s : {Shape{4, 2, 18}, Shape{2, 2, 16}, Shape{8, 1, 128}, Shape{16, 2, 64}, Shape{6, 2, 192},
                  Shape{3, 1, 24}, Shape{8, 2, 256}})
    for (bool bf16 : {false, true}) {
      SCOPED_TRACE("heads " + std::to_string(s.nh) + "/" + std::to_string(s.nkv) + " hd " + std::to_string(s.hd) +
                   (bf16 ? " bf16" : " fp32"));
      // Single-token rows with contexts around the tile (16, 64) and chunk
      // (16, 32) sizes.
      const Problem p = make_problem(
          s.nh, s.nkv, s.hd, bf16,
          {{1, 0}, {1, 1}, {1, 15}, {1, 16}, {1, 31}, {1, 63}, {1, 64}, {1, 127}, {1, 128}, {1, 300}, {1, 1000}}, seed);
      const auto ref = reference(p);
      for (int splits : {1, 3, 7, lmk::decode_splits(int(p.toks.size()), s.nkv, sms), 64}) {
        SCOPED_TRACE("splits " + std::to_string(splits));
        EXPECT_LE(rel_err(run_decode(p, splits, false), ref), bf16 ? 1e-2 : 1e-5);
      }
      EXPECT_EQ(run_decode(p, 5, true), run_decode(p, 5, false));  // token lists address the same work
    }
}

TEST(CudaLmAttention, DecodeKernelHandlesPrefillTokens) {
  // The fp32 runner's prefill: every token of a segment attends causally.
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  for (bool bf16 : {false, true}) {
    const Problem p = make_problem(4, 2, 18, bf16, {{40, 0}, {3, 17}, {1, 5}}, seed);
    EXPECT_LE(rel_err(run_decode(p, 2, false), reference(p)), bf16 ? 1e-2 : 1e-5);
  }
}

TEST(CudaLmAttention, RealShapeDecodeAt4kContext) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  const Problem p = make_problem(64, 8, 128, true, {{1, 4095}, {1, 1023}}, seed);
  const int splits = lmk::decode_splits(2, 8, cuda::device_sm_count());
  const auto got = run_decode(p, splits, false);
  EXPECT_LE(rel_err(got, reference(p)), 1e-2);
  EXPECT_EQ(run_decode(p, splits, false), got);  // deterministic
}

TEST(CudaLmAttention, RealShapeDecodeSixteenTokens) {
  // 16 decode rows (8 requests with a guidance pair each) at 700 .. 4096
  // positions. The rows share two caches (TokMeta positions inside them) to
  // keep the host reference small; the kernel sees 16 independent rows.
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  Problem p = make_problem(64, 8, 128, true, {{8, 4088}, {8, 2992}}, seed);
  const int pos[16] = {4095, 3500, 3001, 2500, 2049, 1500, 1024, 700, 2999, 2600, 2222, 2047, 1800, 1337, 1100, 999};
  for (int t = 0; t < 16; ++t) p.toks[size_t(t)].pos = pos[t];
  const auto ref = reference(p);
  const int heuristic = lmk::decode_splits(16, 8, cuda::device_sm_count());
  for (int splits : {heuristic, 64}) {
    SCOPED_TRACE("splits " + std::to_string(splits));
    const auto got = run_decode(p, splits, false);
    EXPECT_LE(rel_err(got, ref), 1e-2);
    EXPECT_EQ(run_decode(p, splits, true), got);  // a reversed token list
  }
}

TEST(CudaLmAttention, DecodeWithPdlIsBitIdentical) {
  // Programmatic dependent launch changes nothing: tensor-core (bf16, real
  // shape) and scalar (head_dim 18, float32 and bf16) kernels, twice back to back.
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  const int sms = cuda::device_sm_count();
  {
    const Problem p = make_problem(64, 8, 128, true, {{1, 4095}, {1, 1023}}, seed);
    const int splits = lmk::decode_splits(2, 8, sms);
    EXPECT_EQ(run_decode(p, splits, false, true), run_decode(p, splits, false));
  }
  for (bool bf16 : {false, true}) {
    SCOPED_TRACE(bf16 ? "bf16" : "fp32");
    const Problem p = make_problem(4, 2, 18, bf16, {{1, 0}, {1, 77}, {1, 500}, {2, 33}}, seed);
    const int splits = lmk::decode_splits(int(p.toks.size()), 2, sms);
    const auto plain = run_decode(p, splits, false);
    EXPECT_LE(rel_err(plain, reference(p)), bf16 ? 1e-2 : 1e-5);
    EXPECT_EQ(run_decode(p, splits, false, true), plain);
  }
}

TEST(CudaLmAttention, TensorCorePrefillMatchesCpu) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  ASSERT_TRUE(lmk::prefill_attention_supported(ActType::BF16, 128));
  ASSERT_FALSE(lmk::prefill_attention_supported(ActType::F32, 128));
  struct Shape {
    int nh, nkv, hd;
  };
  for (Shape s : {Shape{2, 2, 64}, Shape{8, 1, 128}, Shape{4, 2, 128}}) {
    SCOPED_TRACE("heads " + std::to_string(s.nh) + "/" + std::to_string(s.nkv) + " hd " + std::to_string(s.hd));
    // Segments around the 64-token tiles, fresh and continuing a cached prefix.
    const Problem p =
        make_problem(s.nh, s.nkv, s.hd, true, {{2, 0}, {63, 0}, {64, 0}, {65, 0}, {200, 0}, {70, 17}, {5, 130}}, seed);
    const auto ref = reference(p);
    const auto got = run_prefill(p);
    EXPECT_LE(rel_err(got, ref), 1e-2);
    EXPECT_LE(rel_err(got, run_decode(p, 2, false)), 1e-2);
  }
}

TEST(CudaLmAttention, RealShapePrefill) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  const Problem p = make_problem(64, 8, 128, true, {{300, 0}, {129, 50}}, seed);
  EXPECT_LE(rel_err(run_prefill(p), reference(p)), 1e-2);
}

TEST(CudaLmAttention, UnsupportedShapesAreReported) {
  EXPECT_TRUE(lmk::decode_attention_supported(64, 8, 128));
  EXPECT_TRUE(lmk::decode_attention_supported(8, 8, 256));
  EXPECT_FALSE(lmk::decode_attention_supported(64, 4, 128));  // 16 query heads per kv head
  EXPECT_FALSE(lmk::decode_attention_supported(8, 3, 128));   // not a multiple
  EXPECT_FALSE(lmk::decode_attention_supported(8, 8, 512));   // head_dim > 256
}

}  // namespace
}  // namespace emu35::cuda_lm_test

#else
TEST(CudaLmAttention, SkippedWithoutCuda) { GTEST_SKIP() << "built without the CUDA backend"; }
#endif
