// Split-K flash decoding over the KV cache (see lm_attention.h).
//
// Block (split, kv head g, query qi), 128 threads. Its context share
// [start, end) is walked in tiles of 128 positions: the tile's K and V rows
// are copied to shared memory with cp.async (all in flight at once), thread j
// scores position j against the group's query heads, the block updates the
// running max / sum per head (fixed-order reductions), and thread d
// accumulates output dims d and d+128 for every head. The partial
// (max, sum, unnormalised output) goes to the workspace; the combine kernel
// merges the splits in split order, so results never depend on timing.
#include <algorithm>
#include <cmath>

#include "cuda/lm_attention.h"
#include "cuda/lm_device_util.cuh"
#include "cuda/lm_mma.cuh"

namespace emu35::cuda::lmk {

namespace {
using dev::bf16;

constexpr int kThreads = 128;
constexpr int kTile = 128;    // positions per tile (one per thread when scoring)
constexpr int kMaxGroup = 8;  // query heads per kv head
constexpr int kMaxDims = 2;   // output dims per thread: head_dim <= 256

template <class T>
constexpr int row_pad() {
  return 16 / static_cast<int>(sizeof(T));  // keeps 16-byte row reads conflict-free
}

__host__ __device__ constexpr size_t align16(size_t b) { return (b + 15) & ~size_t(15); }

template <class T>
size_t smem_bytes(int hd, int group) {
  const size_t f = sizeof(float) * (size_t(hd) * group + size_t(kTile) * group + 8 * size_t(group));
  return align16(f) + 2 * sizeof(T) * size_t(kTile) * (hd + row_pad<T>());
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
    decode_attn_kernel(const T* __restrict__ q, const int32_t* __restrict__ qtok, const TokMeta* __restrict__ toks,
                       const SegMeta* __restrict__ segs, int nh, int nkv, int hd, int layer, float scale, int splits,
                       float* __restrict__ o_part, float2* __restrict__ ml_part) {
  extern __shared__ __align__(16) unsigned char smem[];
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

  if (start >= end) {  // this split has no positions: an empty partial
    for (int h = 0; h < group; ++h) {
      const size_t p = part0 + static_cast<size_t>(h) * splits;
      for (int d = tid; d < hd; d += kThreads) o_part[p * hd + d] = 0.0f;
      if (tid == 0) ml_part[p] = make_float2(-INFINITY, 0.0f);
    }
    return;
  }

  constexpr int kPad = row_pad<T>();
  const int ld = hd + kPad;
  float* qs = reinterpret_cast<float*>(smem);  // [hd][group]
  float* ps = qs + hd * group;                 // [kTile][group]
  float* red = ps + kTile * group;             // [8][group]: 4 warp maxima, 4 warp sums
  T* Ks =
      reinterpret_cast<T*>(smem + align16(sizeof(float) * (size_t(hd) * group + size_t(kTile) * group + 8 * group)));
  T* Vs = Ks + kTile * ld;

  for (int i = tid; i < group * hd; i += kThreads) {
    const int h = i / hd, d = i % hd;
    qs[d * group + h] = dev::to_f32(q[(static_cast<size_t>(tok) * nh + static_cast<size_t>(g) * group + h) * hd + d]);
  }
  const T* cache = static_cast<const T*>(sg.kv);
  const size_t head_stride = static_cast<size_t>(sg.cap) * hd;
  const T* Kb = cache + (static_cast<size_t>(layer) * 2 * nkv + g) * head_stride;
  const T* Vb = cache + (static_cast<size_t>(layer) * 2 * nkv + nkv + g) * head_stride;
  const bool vec = (hd * static_cast<int>(sizeof(T))) % 16 == 0;
  constexpr int kPerChunk = 16 / static_cast<int>(sizeof(T));

  float m_run[kMaxGroup], l_run[kMaxGroup], acc[kMaxGroup][kMaxDims];
#pragma unroll
  for (int h = 0; h < kMaxGroup; ++h) {
    m_run[h] = -INFINITY;
    l_run[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < kMaxDims; ++e) acc[h][e] = 0.0f;
  }

  for (int t0 = start; t0 < end; t0 += kTile) {
    const int n = min(kTile, end - t0);
    if (vec) {
      const int cpr = hd / kPerChunk;  // 16-byte chunks per row
      for (int c = tid; c < n * cpr; c += kThreads) {
        const int r = c / cpr, cc = c % cpr;
        dev::cp_async16(Ks + r * ld + cc * kPerChunk, Kb + static_cast<size_t>(t0 + r) * hd + cc * kPerChunk);
        dev::cp_async16(Vs + r * ld + cc * kPerChunk, Vb + static_cast<size_t>(t0 + r) * hd + cc * kPerChunk);
      }
      dev::cp_async_commit();
      dev::cp_async_wait<0>();
    } else {
      for (int i = tid; i < n * hd; i += kThreads) {
        const int r = i / hd, d = i % hd;
        Ks[r * ld + d] = Kb[static_cast<size_t>(t0 + r) * hd + d];
        Vs[r * ld + d] = Vb[static_cast<size_t>(t0 + r) * hd + d];
      }
    }
    __syncthreads();

    // Scores of position t0 + tid for every head of the group.
    float s[kMaxGroup];
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h) s[h] = 0.0f;
    if (tid < n) {
      const T* kr = Ks + tid * ld;
      int d = 0;
      if (vec) {
        for (; d + 8 <= hd; d += 8) {
          float kf[8];
          load8(kr + d, kf);
#pragma unroll
          for (int e = 0; e < 8; ++e) {
            const float* qd = qs + (d + e) * group;
#pragma unroll
            for (int h = 0; h < kMaxGroup; ++h)
              if (h < group) s[h] = fmaf(qd[h], kf[e], s[h]);
          }
        }
      }
      for (; d < hd; ++d) {
        const float kv = dev::to_f32(kr[d]);
#pragma unroll
        for (int h = 0; h < kMaxGroup; ++h)
          if (h < group) s[h] = fmaf(qs[d * group + h], kv, s[h]);
      }
#pragma unroll
      for (int h = 0; h < kMaxGroup; ++h) s[h] *= scale;
    } else {
#pragma unroll
      for (int h = 0; h < kMaxGroup; ++h) s[h] = -INFINITY;
    }

    // Tile maxima per head, then the probabilities and their sums.
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
        const float p = tid < n ? expf(s[h] - m_new[h]) : 0.0f;
        if (tid < kTile) ps[tid * group + h] = p;
        const float sum = warp_sumf(p);
        if (lane == 0) red[(4 + warp) * group + h] = sum;
      }
    __syncthreads();
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h)
      if (h < group) {
        float tsum = 0.0f;
        for (int w = 0; w < kThreads / 32; ++w) tsum += red[(4 + w) * group + h];
        const float alpha = expf(m_run[h] - m_new[h]);  // 0 on the first tile (m_run = -inf)
        l_run[h] = l_run[h] * alpha + tsum;
        m_run[h] = m_new[h];
#pragma unroll
        for (int e = 0; e < kMaxDims; ++e) acc[h][e] *= alpha;
      }

      // Output dims tid and tid + 128 of every head.
#pragma unroll
    for (int e = 0; e < kMaxDims; ++e) {
      const int d = tid + e * kThreads;
      if (d < hd) {
        for (int j = 0; j < n; ++j) {
          const float v = dev::to_f32(Vs[j * ld + d]);
          const float* pj = ps + j * group;
#pragma unroll
          for (int h = 0; h < kMaxGroup; ++h)
            if (h < group) acc[h][e] = fmaf(pj[h], v, acc[h][e]);
        }
      }
    }
    __syncthreads();  // the next tile overwrites Ks, Vs, ps and red
  }

#pragma unroll
  for (int h = 0; h < kMaxGroup; ++h)
    if (h < group) {
      const size_t p = part0 + static_cast<size_t>(h) * splits;
#pragma unroll
      for (int e = 0; e < kMaxDims; ++e) {
        const int d = tid + e * kThreads;
        if (d < hd) o_part[p * hd + d] = acc[h][e];
      }
      if (tid == 0) ml_part[p] = make_float2(m_run[h], l_run[h]);
    }
}

template <class T>
__global__ void decode_combine_kernel(const float* __restrict__ o_part, const float2* __restrict__ ml_part,
                                      const int32_t* __restrict__ qtok, int nh, int hd, int splits,
                                      T* __restrict__ out) {
  const int qi = blockIdx.x, h = blockIdx.y;
  const int tok = qtok ? qtok[qi] : qi;
  const size_t base = (static_cast<size_t>(qi) * nh + h) * splits;
  float M = -INFINITY;
  for (int s = 0; s < splits; ++s) M = fmaxf(M, ml_part[base + s].x);
  float L = 0.0f;
  for (int s = 0; s < splits; ++s) {
    const float2 ml = ml_part[base + s];
    if (ml.y > 0.0f) L += ml.y * expf(ml.x - M);
  }
  const float inv = L > 0.0f ? 1.0f / L : 0.0f;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.0f;
    for (int s = 0; s < splits; ++s) {
      const float2 ml = ml_part[base + s];
      if (ml.y > 0.0f) o = fmaf(expf(ml.x - M), o_part[(base + s) * hd + d], o);
    }
    out[(static_cast<size_t>(tok) * nh + h) * hd + d] = dev::from_f32<T>(o * inv);
  }
}

// The kernel needs more than the default 48 KB of shared memory: opt in once
// per device (attributes are per context; the first call is always eager).
template <class T>
void ensure_smem(size_t bytes) {
  static bool done[64] = {};
  static size_t granted[64] = {};
  int dev_id = 0;
  EMU35_CUDA_CHECK(cudaGetDevice(&dev_id));
  const int slot = std::clamp(dev_id, 0, 63);
  if (done[slot] && granted[slot] >= bytes) return;
  EMU35_CUDA_CHECK(cudaFuncSetAttribute(decode_attn_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(bytes)));
  done[slot] = true;
  granted[slot] = bytes;
}

}  // namespace

bool decode_attention_supported(int heads, int kv_heads, int head_dim) {
  if (kv_heads <= 0 || heads % kv_heads != 0) return false;
  const int group = heads / kv_heads;
  return group >= 1 && group <= kMaxGroup && head_dim >= 1 && head_dim <= kMaxDims * kThreads &&
         smem_bytes<float>(head_dim, group) <= 227 * 1024;
}

int decode_splits(int tokens, int kv_heads, int num_sms) {
  // Two resident blocks per SM is what the bf16 kernel's shared memory allows
  // at head_dim 128; one wave of (kv head, token, split) blocks, at most 64 splits.
  const long slots = 2L * std::max(num_sms, 1);
  const long per = std::max(1L, long(tokens) * std::max(kv_heads, 1));
  return static_cast<int>(std::clamp(slots / per, 1L, 64L));
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
                      cudaStream_t stream) {
  if (nq <= 0) return;
  if (!decode_attention_supported(heads, kv.kv_heads, kv.head_dim))
    throw Error("CUDA attention: unsupported shape (" + std::to_string(heads) + " heads, " +
                std::to_string(kv.kv_heads) + " kv heads, head_dim " + std::to_string(kv.head_dim) + ")");
  const int hd = kv.head_dim, group = heads / kv.kv_heads;
  float* o_part = workspace;
  float2* ml_part = reinterpret_cast<float2*>(workspace + part_floats(nq, heads, hd, splits));
  const dim3 grid(splits, kv.kv_heads, nq);
  if (type == ActType::BF16) {
    const size_t bytes = smem_bytes<bf16>(hd, group);
    ensure_smem<bf16>(bytes);
    decode_attn_kernel<bf16><<<grid, kThreads, bytes, stream>>>(static_cast<const bf16*>(q), qtok, toks, segs, heads,
                                                                kv.kv_heads, hd, layer, scale, splits, o_part, ml_part);
    EMU35_LAUNCH_CHECK();
    decode_combine_kernel<bf16>
        <<<dim3(nq, heads), 128, 0, stream>>>(o_part, ml_part, qtok, heads, hd, splits, static_cast<bf16*>(out));
  } else {
    const size_t bytes = smem_bytes<float>(hd, group);
    ensure_smem<float>(bytes);
    decode_attn_kernel<float><<<grid, kThreads, bytes, stream>>>(
        static_cast<const float*>(q), qtok, toks, segs, heads, kv.kv_heads, hd, layer, scale, splits, o_part, ml_part);
    EMU35_LAUNCH_CHECK();
    decode_combine_kernel<float>
        <<<dim3(nq, heads), 128, 0, stream>>>(o_part, ml_part, qtok, heads, hd, splits, static_cast<float*>(out));
  }
  EMU35_LAUNCH_CHECK();
}

}  // namespace emu35::cuda::lmk
