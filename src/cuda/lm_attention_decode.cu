// Split-K flash decoding over the KV cache (see lm_attention.h).
//
// Decode reads every K/V byte once and does little arithmetic on it, so the
// kernel is built to keep many bytes in flight on every SM from the first
// cycle on, with little shared memory per block:
//
// bf16 cache, head_dim a multiple of 16 (the model's path): block (split,
//   kv head g, query qi) of 4 warps. The block's context share [start, end) is
//   cut into tiles of 16 positions and warp w takes tiles w, w + 4, ... with
//   its own 2-stage cp.async pipeline (tile i + 1 is in flight while tile i is
//   computed; only __syncwarp inside the loop, warps never wait on each other).
//   Scores and outputs run on tensor cores (mma.m16n8k16, fp32 accumulate)
//   with the group's query heads as the n = 8 side: S^T = K Q^T (K through
//   ldmatrix, Q^T fragments held in registers), online softmax per head in
//   registers, P^T re-used as the B operand after one movmatrix transpose, and
//   O^T += V^T P^T (V through ldmatrix.trans). At head_dim 128 a block takes
//   68 KB of shared memory (2 stages x 4 warps x 16 rows of K and V, padded),
//   3 blocks per SM. The 4 warps' states are merged in warp order at the end.
// Everything else (float32 caches, other head dims): 128 threads, tiles of 64
//   positions, two threads score one position (halves of the dims, summed by
//   one shuffle), one thread per output dim; double-buffered cp.async when two
//   stages fit in 80 KB, else one stage (float32 at head_dim 128 and up).
//
// Softmax runs in the log2 domain (exp2f, scale * log2 e folded into the
// scores). Each block writes a partial (max, sum, unnormalised output) to the
// workspace; the combine kernel merges the splits in split order, so results
// never depend on timing. With pdl both kernels are launched through
// lmk::launch and wait (dev::pdl_wait) before touching q, the cache or the
// partials. (Merging in the last block of each group instead of a second
// kernel measured slower: one block then walks all splits of 8 heads.)
#include <algorithm>
#include <cmath>

#include "cuda/lm_attention.h"
#include "cuda/lm_device_util.cuh"
#include "cuda/lm_launch.h"
#include "cuda/lm_mma.cuh"

namespace emu35::cuda::lmk {

namespace {
using dev::bf16;

constexpr int kMaxGroup = 8;    // query heads per kv head
constexpr int kMaxDims = 256;   // head_dim
constexpr int kMaxSplits = 64;  // decode_splits' upper bound
constexpr float kLog2e = 1.4426950408889634f;

// --- tensor-core kernel (bf16, head_dim % 16 == 0) ---------------------------
constexpr int kWarps = 4;
constexpr int kMmaThreads = 32 * kWarps;
constexpr int kRows = 16;  // positions per warp tile (the mma's m)
constexpr int kStages = 2;

__host__ __device__ constexpr int mma_ld(int hd) { return hd + 8; }  // odd 16-byte units: ldmatrix conflict-free

__host__ __device__ constexpr size_t mma_kv_bytes(int hd) {
  return size_t(kWarps) * kStages * 2 * kRows * mma_ld(hd) * sizeof(uint16_t);
}
// The K/V stages, reused at the end for the warps' outputs [warp][head][dim],
// then the warps' maxima and sums [warp][head].
__host__ __device__ constexpr size_t mma_merge_offset(int hd) {
  const size_t o = size_t(kWarps) * kMaxGroup * hd * sizeof(float);
  return mma_kv_bytes(hd) > o ? mma_kv_bytes(hd) : o;
}
size_t mma_smem_bytes(int hd) { return mma_merge_offset(hd) + 2 * sizeof(float) * kWarps * kMaxGroup; }

bool use_mma(ActType type, int hd) { return type == ActType::BF16 && hd % 16 == 0 && hd <= kMaxDims; }

// 8x8 b16 matrix transpose across the warp (fragment layout as ldmatrix).
__device__ __forceinline__ uint32_t movmatrix_trans(uint32_t a) {
  uint32_t d;
  asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;\n" : "=r"(d) : "r"(a));
  return d;
}
__device__ __forceinline__ float bf16_lo(uint32_t u) { return __uint_as_float(u << 16); }
__device__ __forceinline__ float bf16_hi(uint32_t u) { return __uint_as_float(u & 0xffff0000u); }

// NK: head_dim / 16 this instantiation can hold (4, 8 or 16); nk <= NK at run time.
template <int NK>
__global__ void __launch_bounds__(kMmaThreads)
    decode_attn_mma_kernel(const bf16* __restrict__ q, const int32_t* __restrict__ qtok,
                           const TokMeta* __restrict__ toks, const SegMeta* __restrict__ segs, int nh, int nkv, int hd,
                           int layer, float scale_log2, int splits, float* __restrict__ o_part,
                           float2* __restrict__ ml_part) {
  extern __shared__ __align__(16) unsigned char smem[];
  dev::pdl_wait();
  dev::pdl_launch_dependents();
  const int split = blockIdx.x, g = blockIdx.y, qi = blockIdx.z;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int gq = lane >> 2, tq = lane & 3;  // mma fragment row / column pair
  const int group = nh / nkv;
  const int tok = qtok ? qtok[qi] : qi;
  const TokMeta tk = toks[tok];
  const SegMeta sg = segs[tk.seg];
  const int L = tk.pos + 1;
  const int chunk = ((L + splits - 1) / splits + kRows - 1) / kRows * kRows;
  const int start = split * chunk, end = min(L, start + chunk);
  const size_t part0 = (static_cast<size_t>(qi) * nh + static_cast<size_t>(g) * group) * splits + split;

  if (start >= end) {  // no positions: an empty partial (the combine skips its outputs)
    if (tid < group) ml_part[part0 + static_cast<size_t>(tid) * splits] = make_float2(-INFINITY, 0.0f);
    return;
  }

  const int nk = hd >> 4, ld = mma_ld(hd), cpr = hd >> 3;  // cpr: 16-byte chunks per row
  const bf16* cache = static_cast<const bf16*>(sg.kv);
  const size_t head_stride = static_cast<size_t>(sg.cap) * hd;
  const bf16* Kb = cache + (static_cast<size_t>(layer) * 2 * nkv + g) * head_stride;
  const bf16* Vb = Kb + static_cast<size_t>(nkv) * head_stride;
  bf16* stage0 = reinterpret_cast<bf16*>(smem) + warp * (kStages * 2 * kRows * ld);

  const int ntiles = (end - start + kRows - 1) / kRows;
  const int mine = warp < ntiles ? (ntiles - warp + kWarps - 1) / kWarps : 0;  // tiles warp + kWarps * i

  // This lane's 16-byte chunks of a tile: (r0, c0), then steps of 32 chunks.
  const int r0 = lane / cpr, c0 = lane % cpr, dr = 32 / cpr, dc = 32 % cpr;
  auto load = [&](int i) {
    const int t0 = start + (warp + i * kWarps) * kRows;
    bf16* ks = stage0 + (i % kStages) * (2 * kRows * ld);
    bf16* vs = ks + kRows * ld;
    int r = r0, c = c0;
    while (r < kRows) {
      const bool ok = t0 + r < end;  // rows past the end are zero-filled
      const size_t off = static_cast<size_t>(ok ? t0 + r : start) * hd + c * 8;
      dev::cp_async16(ks + r * ld + c * 8, Kb + off, ok ? 16 : 0);
      dev::cp_async16(vs + r * ld + c * 8, Vb + off, ok ? 16 : 0);
      r += dr;
      c += dc;
      if (c >= cpr) c -= cpr, ++r;
    }
  };
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < mine) load(s);
    dev::cp_async_commit();
  }

  // Q^T as the B operand: column gq = head gq of the group (zero past the group).
  uint32_t qf[NK][2];
  {
    const bool ok = gq < group;
    const uint32_t* qr = reinterpret_cast<const uint32_t*>(
        q + (static_cast<size_t>(tok) * nh + static_cast<size_t>(g) * group + (ok ? gq : 0)) * hd);
#pragma unroll
    for (int kk = 0; kk < NK; ++kk) {
      qf[kk][0] = ok && kk < nk ? qr[kk * 8 + tq] : 0u;
      qf[kk][1] = ok && kk < nk ? qr[kk * 8 + 4 + tq] : 0u;
    }
  }

  // Per thread: heads 2tq, 2tq + 1. O^T accumulators: acc[m] = dims 16m + gq
  // (regs 0, 1) and 16m + gq + 8 (regs 2, 3) of those two heads.
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};
  float acc[NK][4];
#pragma unroll
  for (int m = 0; m < NK; ++m) acc[m][0] = acc[m][1] = acc[m][2] = acc[m][3] = 0.0f;

  const int krow = ((lane >> 3) & 1) * 8 + (lane & 7), kcol = (lane >> 4) * 8;  // K, non-transposed
  const int vrow = (lane >> 4) * 8 + (lane & 7), vcol = ((lane >> 3) & 1) * 8;  // V, transposed

  for (int i = 0; i < mine; ++i) {
    if (i + kStages - 1 < mine) load(i + kStages - 1);
    dev::cp_async_commit();
    dev::cp_async_wait<kStages - 1>();
    __syncwarp();
    const int t0 = start + (warp + i * kWarps) * kRows;
    const bf16* ks = stage0 + (i % kStages) * (2 * kRows * ld);
    const bf16* vs = ks + kRows * ld;

    // S^T (16 positions x 8 heads); two accumulators for instruction overlap.
    float sa[4] = {0.0f, 0.0f, 0.0f, 0.0f}, sb[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int kk = 0; kk < NK; ++kk)
      if (kk < nk) {
        uint32_t a0, a1, a2, a3;
        dev::ldmatrix_x4(a0, a1, a2, a3, ks + krow * ld + kk * 16 + kcol);
        dev::mma_bf16_16816(kk & 1 ? sb : sa, a0, a1, a2, a3, qf[kk][0], qf[kk][1]);
      }
    const bool v0 = t0 + gq < end, v1 = t0 + gq + 8 < end;
    const float s0 = v0 ? (sa[0] + sb[0]) * scale_log2 : -INFINITY;  // (pos gq, head 2tq)
    const float s1 = v0 ? (sa[1] + sb[1]) * scale_log2 : -INFINITY;  // (pos gq, head 2tq + 1)
    const float s2 = v1 ? (sa[2] + sb[2]) * scale_log2 : -INFINITY;  // (pos gq + 8, head 2tq)
    const float s3 = v1 ? (sa[3] + sb[3]) * scale_log2 : -INFINITY;  // (pos gq + 8, head 2tq + 1)

    // Tile maxima per head over the 16 positions (lanes of equal tq).
    float mx0 = fmaxf(s0, s2), mx1 = fmaxf(s1, s3);
#pragma unroll
    for (int o = 4; o < 32; o <<= 1) {
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, o));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, o));
    }
    // Position t0 is always valid, so the new maxima are finite.
    const float mn0 = fmaxf(m_run[0], mx0), mn1 = fmaxf(m_run[1], mx1);
    const float al0 = exp2f(m_run[0] - mn0), al1 = exp2f(m_run[1] - mn1);  // 0 on the first tile
    m_run[0] = mn0;
    m_run[1] = mn1;
    const uint32_t pa = dev::pack_bf16x2(exp2f(s0 - mn0), exp2f(s1 - mn1));
    const uint32_t pb = dev::pack_bf16x2(exp2f(s2 - mn0), exp2f(s3 - mn1));
    // Sums of the rounded weights the mma uses (this lane's positions only).
    l_run[0] = l_run[0] * al0 + (bf16_lo(pa) + bf16_lo(pb));
    l_run[1] = l_run[1] * al1 + (bf16_hi(pa) + bf16_hi(pb));
    // P^T as the B operand: (positions 2tq, 2tq + 1 [+ 8], head gq).
    const uint32_t b0 = movmatrix_trans(pa), b1 = movmatrix_trans(pb);

#pragma unroll
    for (int m = 0; m < NK; ++m)
      if (m < nk) {
        acc[m][0] *= al0;
        acc[m][1] *= al1;
        acc[m][2] *= al0;
        acc[m][3] *= al1;
        uint32_t a0, a1, a2, a3;
        dev::ldmatrix_x4_trans(a0, a1, a2, a3, vs + vrow * ld + m * 16 + vcol);
        dev::mma_bf16_16816(acc[m], a0, a1, a2, a3, b0, b1);
      }
    __syncwarp();  // this stage is refilled by the next iteration's load
  }
  dev::cp_async_wait<0>();  // (only empty groups can be left)

#pragma unroll
  for (int o = 4; o < 32; o <<= 1) {
    l_run[0] += __shfl_xor_sync(0xffffffffu, l_run[0], o);
    l_run[1] += __shfl_xor_sync(0xffffffffu, l_run[1], o);
  }

  // Merge the warps in warp order.
  float* osh = reinterpret_cast<float*>(smem);  // [warp][head][hd]
  float* msh = reinterpret_cast<float*>(smem + mma_merge_offset(hd));
  float* lsh = msh + kWarps * kMaxGroup;
  if (gq == 0) {
    msh[warp * kMaxGroup + 2 * tq] = m_run[0];
    msh[warp * kMaxGroup + 2 * tq + 1] = m_run[1];
    lsh[warp * kMaxGroup + 2 * tq] = l_run[0];
    lsh[warp * kMaxGroup + 2 * tq + 1] = l_run[1];
  }
  __syncthreads();  // also: every warp is done with its K/V stages
  float M0 = -INFINITY, M1 = -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    M0 = fmaxf(M0, msh[w * kMaxGroup + 2 * tq]);
    M1 = fmaxf(M1, msh[w * kMaxGroup + 2 * tq + 1]);
  }
  const float f0 = exp2f(m_run[0] - M0), f1 = exp2f(m_run[1] - M1);  // 0 for a warp without tiles
  {
    float* o0 = osh + (warp * kMaxGroup + 2 * tq) * hd;
    float* o1 = o0 + hd;
#pragma unroll
    for (int m = 0; m < NK; ++m)
      if (m < nk) {
        const int d = 16 * m + gq;
        o0[d] = acc[m][0] * f0;
        o1[d] = acc[m][1] * f1;
        o0[d + 8] = acc[m][2] * f0;
        o1[d + 8] = acc[m][3] * f1;
      }
  }
  __syncthreads();
  for (int i = tid; i < group * hd; i += kMmaThreads) {
    const int h = i / hd, d = i - h * hd;
    float o = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) o += osh[(w * kMaxGroup + h) * hd + d];
    o_part[(part0 + static_cast<size_t>(h) * splits) * hd + d] = o;
  }
  if (tid < group) {
    float M = -INFINITY, S = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, msh[w * kMaxGroup + tid]);
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float l = lsh[w * kMaxGroup + tid];
      if (l > 0.0f) S += l * exp2f(msh[w * kMaxGroup + tid] - M);
    }
    ml_part[part0 + static_cast<size_t>(tid) * splits] = make_float2(M, S);
  }
}

// --- scalar kernel (float32 caches, any head_dim) ----------------------------
constexpr int kThreads = 128;
constexpr int kTile = 64;                     // positions per tile, two threads each when scoring
constexpr int kOutDims = kMaxDims / kThreads;  // output dims per thread
constexpr size_t kTwoStageBudget = 80 * 1024;

template <class T>
constexpr int row_pad() {
  return 16 / static_cast<int>(sizeof(T));  // keeps 16-byte row reads conflict-free
}

__host__ __device__ constexpr size_t align16(size_t b) { return (b + 15) & ~size_t(15); }

// q [hd][group], probabilities [kTile][group], reductions [8][group] (floats).
__host__ __device__ constexpr size_t scalar_head_bytes(int hd, int group) {
  return align16(sizeof(float) * (size_t(hd) * group + size_t(kTile) * group + 8 * size_t(group)));
}
template <class T>
size_t scalar_smem(int hd, int group, int stages) {
  return scalar_head_bytes(hd, group) + size_t(stages) * 2 * sizeof(T) * kTile * (hd + row_pad<T>());
}
template <class T>
int scalar_stages(int hd, int group) {
  return scalar_smem<T>(hd, group, 2) <= kTwoStageBudget ? 2 : 1;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_sumf(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// 8 consecutive elements of a shared-memory row as floats.
__device__ __forceinline__ void load8(const bf16* p, float (&f)[8]) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}
__device__ __forceinline__ void load8(const float* p, float (&f)[8]) {
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    decode_attn_scalar_kernel(const T* __restrict__ q, const int32_t* __restrict__ qtok,
                              const TokMeta* __restrict__ toks, const SegMeta* __restrict__ segs, int nh, int nkv,
                              int hd, int layer, float scale_log2, int splits, int stages, float* __restrict__ o_part,
                              float2* __restrict__ ml_part) {
  extern __shared__ __align__(16) unsigned char smem[];
  dev::pdl_wait();
  dev::pdl_launch_dependents();
  const int split = blockIdx.x, g = blockIdx.y, qi = blockIdx.z;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int group = nh / nkv;
  const int tok = qtok ? qtok[qi] : qi;
  const TokMeta tk = toks[tok];
  const SegMeta sg = segs[tk.seg];
  const int L = tk.pos + 1;
  const int chunk = ((L + splits - 1) / splits + 31) & ~31;
  const int start = split * chunk, end = min(L, start + chunk);
  const size_t part0 = (static_cast<size_t>(qi) * nh + static_cast<size_t>(g) * group) * splits + split;

  if (start >= end) {  // no positions: an empty partial (the combine skips its outputs)
    if (tid < group) ml_part[part0 + static_cast<size_t>(tid) * splits] = make_float2(-INFINITY, 0.0f);
    return;
  }

  constexpr int kPad = row_pad<T>();
  constexpr int kPerChunk = 16 / static_cast<int>(sizeof(T));
  const int ld = hd + kPad;
  float* qs = reinterpret_cast<float*>(smem);  // [hd][group]
  float* ps = qs + hd * group;                 // [kTile][group]
  float* red = ps + kTile * group;             // [8][group]: 4 warp maxima, 4 warp sums
  T* stage0 = reinterpret_cast<T*>(smem + scalar_head_bytes(hd, group));
  const size_t stage_elems = size_t(2) * kTile * ld;  // K tile, then V tile

  const T* cache = static_cast<const T*>(sg.kv);
  const size_t head_stride = static_cast<size_t>(sg.cap) * hd;
  const T* Kb = cache + (static_cast<size_t>(layer) * 2 * nkv + g) * head_stride;
  const T* Vb = Kb + static_cast<size_t>(nkv) * head_stride;
  const bool vec = (hd * static_cast<int>(sizeof(T))) % 16 == 0;
  const int ntiles = (end - start + kTile - 1) / kTile;

  // Tile i into stage `st` (cp.async when rows are 16-byte multiples).
  auto load = [&](int i, int st) {
    const int t0 = start + i * kTile, n = min(kTile, end - t0);
    T* Ks = stage0 + st * stage_elems;
    T* Vs = Ks + kTile * ld;
    if (vec) {
      const int cpr = hd / kPerChunk;
      for (int c = tid; c < n * cpr; c += kThreads) {
        const int r = c / cpr, cc = c - r * cpr;
        const size_t off = static_cast<size_t>(t0 + r) * hd + cc * kPerChunk;
        dev::cp_async16(Ks + r * ld + cc * kPerChunk, Kb + off);
        dev::cp_async16(Vs + r * ld + cc * kPerChunk, Vb + off);
      }
    } else {
      for (int e = tid; e < n * hd; e += kThreads) {
        const int r = e / hd, d = e - r * hd;
        Ks[r * ld + d] = Kb[static_cast<size_t>(t0 + r) * hd + d];
        Vs[r * ld + d] = Vb[static_cast<size_t>(t0 + r) * hd + d];
      }
    }
  };
  load(0, 0);
  dev::cp_async_commit();

  for (int e = tid; e < group * hd; e += kThreads) {
    const int h = e / hd, d = e - h * hd;
    qs[d * group + h] = dev::to_f32(q[(static_cast<size_t>(tok) * nh + static_cast<size_t>(g) * group + h) * hd + d]);
  }

  float m_run[kMaxGroup], l_run[kMaxGroup], acc[kMaxGroup][kOutDims];
#pragma unroll
  for (int h = 0; h < kMaxGroup; ++h) {
    m_run[h] = -INFINITY;
    l_run[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < kOutDims; ++e) acc[h][e] = 0.0f;
  }

  const int j = tid >> 1, half = tid & 1;  // the position this thread scores, and which half of the dims
  for (int i = 0; i < ntiles; ++i) {
    // Two stages: tile i + 1 goes into the stage tile i - 1 used (freed by the
    // barrier that ended the last iteration). One stage: tile i, now.
    if (stages == 2) {
      if (i + 1 < ntiles) load(i + 1, (i + 1) & 1);
    } else if (i > 0) {
      load(i, 0);
    }
    dev::cp_async_commit();
    if (stages == 2)
      dev::cp_async_wait<1>();
    else
      dev::cp_async_wait<0>();
    __syncthreads();
    const int t0 = start + i * kTile, n = min(kTile, end - t0);
    const T* Ks = stage0 + (stages == 2 ? (i & 1) : 0) * stage_elems;
    const T* Vs = Ks + kTile * ld;

    // Scores of position t0 + j for every head of the group.
    float s[kMaxGroup];
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h) s[h] = 0.0f;
    if (j < n) {
      const T* kr = Ks + j * ld;
      int d = 0;
      if (vec) {
        for (int c = half; c < hd / 8; c += 2) {
          float kf[8];
          load8(kr + 8 * c, kf);
#pragma unroll
          for (int e = 0; e < 8; ++e) {
            const float* qd = qs + (8 * c + e) * group;
#pragma unroll
            for (int h = 0; h < kMaxGroup; ++h)
              if (h < group) s[h] = fmaf(qd[h], kf[e], s[h]);
          }
        }
        d = hd / 8 * 8;
      }
      for (d += half; d < hd; d += 2) {
        const float kv = dev::to_f32(kr[d]);
#pragma unroll
        for (int h = 0; h < kMaxGroup; ++h)
          if (h < group) s[h] = fmaf(qs[d * group + h], kv, s[h]);
      }
    }
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h)
      if (h < group) {
        s[h] += __shfl_xor_sync(0xffffffffu, s[h], 1);  // a + b == b + a: both threads agree
        s[h] = j < n ? s[h] * scale_log2 : -INFINITY;
      }

    // Tile maxima per head, then the weights and their sums.
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h)
      if (h < group) {
        const float m = warp_max(s[h]);
        if (lane == 0) red[warp * group + h] = m;
      }
    __syncthreads();
    float m_new[kMaxGroup];
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h) {
      m_new[h] = m_run[h];
      if (h < group)
        for (int w = 0; w < kThreads / 32; ++w) m_new[h] = fmaxf(m_new[h], red[w * group + h]);
    }
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h)
      if (h < group) {
        const float p = j < n && half == 0 ? exp2f(s[h] - m_new[h]) : 0.0f;
        if (half == 0) ps[j * group + h] = p;
        const float sum = warp_sumf(p);
        if (lane == 0) red[(4 + warp) * group + h] = sum;
      }
    __syncthreads();
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h)
      if (h < group) {
        float tsum = 0.0f;
        for (int w = 0; w < kThreads / 32; ++w) tsum += red[(4 + w) * group + h];
        const float alpha = exp2f(m_run[h] - m_new[h]);  // 0 on the first tile (m_run = -inf)
        l_run[h] = l_run[h] * alpha + tsum;
        m_run[h] = m_new[h];
#pragma unroll
        for (int e = 0; e < kOutDims; ++e) acc[h][e] *= alpha;
      }

    // Output dims tid and tid + 128 of every head.
#pragma unroll
    for (int e = 0; e < kOutDims; ++e) {
      const int d = tid + e * kThreads;
      if (d < hd) {
        for (int jj = 0; jj < n; ++jj) {
          const float v = dev::to_f32(Vs[jj * ld + d]);
          const float* pj = ps + jj * group;
#pragma unroll
          for (int h = 0; h < kMaxGroup; ++h)
            if (h < group) acc[h][e] = fmaf(pj[h], v, acc[h][e]);
        }
      }
    }
    __syncthreads();  // the next iteration overwrites a stage, ps and red
  }

#pragma unroll
  for (int h = 0; h < kMaxGroup; ++h)
    if (h < group) {
      const size_t p = part0 + static_cast<size_t>(h) * splits;
#pragma unroll
      for (int e = 0; e < kOutDims; ++e) {
        const int d = tid + e * kThreads;
        if (d < hd) o_part[p * hd + d] = acc[h][e];
      }
      if (tid == 0) ml_part[p] = make_float2(m_run[h], l_run[h]);
    }
}

// --- combine -----------------------------------------------------------------
// out[tok][h] = sum_s 2^(m_s - M) o_s / sum_s 2^(m_s - M) l_s, splits in order.
template <class T>
__global__ void __launch_bounds__(128)
    decode_combine_kernel(const float* __restrict__ o_part, const float2* __restrict__ ml_part,
                          const int32_t* __restrict__ qtok, int nh, int hd, int splits, T* __restrict__ out) {
  dev::pdl_wait();
  dev::pdl_launch_dependents();
  const int qi = blockIdx.x, h = blockIdx.y;
  const int tok = qtok ? qtok[qi] : qi;
  const size_t base = (static_cast<size_t>(qi) * nh + h) * splits;
  float M = -INFINITY;
  for (int s = 0; s < splits; ++s) M = fmaxf(M, ml_part[base + s].x);
  float L = 0.0f;
  for (int s = 0; s < splits; ++s) {
    const float2 ml = ml_part[base + s];
    if (ml.y > 0.0f) L += ml.y * exp2f(ml.x - M);
  }
  const float inv = L > 0.0f ? 1.0f / L : 0.0f;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.0f;
    for (int s = 0; s < splits; ++s) {
      const float2 ml = ml_part[base + s];
      if (ml.y > 0.0f) o = fmaf(exp2f(ml.x - M), o_part[(base + s) * hd + d], o);
    }
    out[(static_cast<size_t>(tok) * nh + h) * hd + d] = dev::from_f32<T>(o * inv);
  }
}

// Kernels needing more than the default 48 KB of shared memory opt in once per
// device and kernel (attributes are per context; the first call is always
// eager, so this never runs inside graph capture).
void ensure_smem(const void* kernel, size_t bytes) {
  struct Grant {
    const void* kernel;
    int dev;
    size_t bytes;
  };
  static Grant grants[64];
  static int ngrants = 0;
  int dev_id = 0;
  EMU35_CUDA_CHECK(cudaGetDevice(&dev_id));
  Grant* slot = nullptr;
  for (int i = 0; i < ngrants; ++i)
    if (grants[i].kernel == kernel && grants[i].dev == dev_id) slot = &grants[i];
  if (slot && slot->bytes >= bytes) return;
  EMU35_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
  if (!slot && ngrants < 64) slot = &grants[ngrants++];
  if (slot) *slot = Grant{kernel, dev_id, bytes};
}

}  // namespace

bool decode_attention_supported(int heads, int kv_heads, int head_dim) {
  if (kv_heads <= 0 || heads % kv_heads != 0) return false;
  const int group = heads / kv_heads;
  return group >= 1 && group <= kMaxGroup && head_dim >= 1 && head_dim <= kMaxDims &&
         scalar_smem<float>(head_dim, group, 1) <= 227 * 1024 && mma_smem_bytes(head_dim) <= 227 * 1024;
}

int decode_splits(int tokens, int kv_heads, int num_sms) {
  // One wave of (split, kv head, token) blocks: the tensor-core kernel keeps 3
  // blocks per SM at head_dim 128 (68 KB of shared memory each). At most 64
  // splits (the partials grow with the split count).
  const long slots = 3L * std::max(num_sms, 1);
  const long per = std::max(1L, long(tokens) * std::max(kv_heads, 1));
  return static_cast<int>(std::clamp(slots / per, 1L, long(kMaxSplits)));
}

namespace {
// Unnormalised outputs first, then (max, sum) pairs at an 8-byte aligned offset.
size_t part_floats(int tokens, int heads, int head_dim, int splits) {
  return (static_cast<size_t>(tokens) * heads * splits * head_dim + 1) & ~size_t(1);
}
}  // namespace

size_t decode_workspace_floats(int tokens, int heads, int head_dim, int splits) {
  return part_floats(tokens, heads, head_dim, splits) + 2 * static_cast<size_t>(tokens) * heads * splits;
}

void decode_attention(const void* q, const int32_t* qtok, int nq, const TokMeta* toks, const SegMeta* segs, int heads,
                      const KvLayout& kv, int layer, float scale, int splits, float* workspace, void* out, ActType type,
                      cudaStream_t stream, bool pdl) {
  if (nq <= 0) return;
  if (!decode_attention_supported(heads, kv.kv_heads, kv.head_dim))
    throw Error("CUDA attention: unsupported shape (" + std::to_string(heads) + " heads, " +
                std::to_string(kv.kv_heads) + " kv heads, head_dim " + std::to_string(kv.head_dim) + ")");
  if (splits < 1) throw Error("CUDA attention: split count " + std::to_string(splits) + " < 1");
  const int hd = kv.head_dim, nkv = kv.kv_heads, group = heads / nkv;
  const float scale_log2 = scale * kLog2e;
  float* o_part = workspace;
  float2* ml_part = reinterpret_cast<float2*>(workspace + part_floats(nq, heads, hd, splits));
  const dim3 grid(splits, nkv, nq), cgrid(nq, heads);
  if (use_mma(type, hd)) {
    const size_t bytes = mma_smem_bytes(hd);
    auto* kernel = hd <= 64    ? decode_attn_mma_kernel<4>
                   : hd <= 128 ? decode_attn_mma_kernel<8>
                               : decode_attn_mma_kernel<16>;
    ensure_smem(reinterpret_cast<const void*>(kernel), bytes);
    launch(pdl, kernel, grid, dim3(kMmaThreads), bytes, stream, static_cast<const bf16*>(q), qtok, toks, segs, heads,
           nkv, hd, layer, scale_log2, splits, o_part, ml_part);
  } else if (type == ActType::BF16) {
    const int st = scalar_stages<bf16>(hd, group);
    const size_t bytes = scalar_smem<bf16>(hd, group, st);
    ensure_smem(reinterpret_cast<const void*>(decode_attn_scalar_kernel<bf16>), bytes);
    launch(pdl, decode_attn_scalar_kernel<bf16>, grid, dim3(kThreads), bytes, stream, static_cast<const bf16*>(q),
           qtok, toks, segs, heads, nkv, hd, layer, scale_log2, splits, st, o_part, ml_part);
  } else {
    const int st = scalar_stages<float>(hd, group);
    const size_t bytes = scalar_smem<float>(hd, group, st);
    ensure_smem(reinterpret_cast<const void*>(decode_attn_scalar_kernel<float>), bytes);
    launch(pdl, decode_attn_scalar_kernel<float>, grid, dim3(kThreads), bytes, stream, static_cast<const float*>(q),
           qtok, toks, segs, heads, nkv, hd, layer, scale_log2, splits, st, o_part, ml_part);
  }
  if (type == ActType::BF16)
    launch(pdl, decode_combine_kernel<bf16>, cgrid, dim3(128), 0, stream, static_cast<const float*>(o_part),
           static_cast<const float2*>(ml_part), qtok, heads, hd, splits, static_cast<bf16*>(out));
  else
    launch(pdl, decode_combine_kernel<float>, cgrid, dim3(128), 0, stream, static_cast<const float*>(o_part),
           static_cast<const float2*>(ml_part), qtok, heads, hd, splits, static_cast<float*>(out));
}

}  // namespace emu35::cuda::lmk
