// Causal flash attention for prefill segments on tensor cores (bf16 in, fp32
// accumulate), FlashAttention-2 style.
//
// Block = 64 query tokens of one segment x one query head, 4 warps of 16
// tokens. Q is loaded once into registers (ldmatrix); K/V tiles of 64
// positions stream through shared memory with cp.async (the V copy overlaps
// the Q K^T product). S = Q K^T runs as m16n8k16 MMAs with K rows as the "col"
// B operand (ldmatrix), the online softmax works on the accumulator
// fragments, P is repacked to bf16 A fragments in registers and O += P V uses
// V through ldmatrix.trans. GQA: query head h reads kv head h / group.
// Heavy tiles (late query blocks see the longest context) are scheduled first.
#include <cmath>

#include "cuda/lm_attention.h"
#include "cuda/lm_device_util.cuh"
#include "cuda/lm_mma.cuh"

namespace emu35::cuda::lmk {

namespace {
using dev::bf16;

constexpr int kBM = 64;  // query tokens per block
constexpr int kBN = 64;  // positions per K/V tile
constexpr int kThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;

template <int HD>
__global__ void __launch_bounds__(kThreads)
    flash_prefill_kernel(const bf16* __restrict__ q, const int32_t* __restrict__ seg_ids,
                         const SegMeta* __restrict__ segs, int nh, int nkv, int layer, float scale_log2,
                         bf16* __restrict__ out) {
  constexpr int LD = HD + 8;   // padded row: ldmatrix rows land in distinct banks
  constexpr int KS = HD / 16;  // k16 steps over head_dim
  constexpr int DB = HD / 8;   // n8 blocks over head_dim
  __shared__ __align__(16) bf16 sK[kBN * LD];
  __shared__ __align__(16) bf16 sV[kBN * LD];

  const SegMeta sg = segs[seg_ids[blockIdx.z]];
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kBM;  // heaviest query blocks first
  if (q0 >= sg.ntok) return;
  const int h = blockIdx.y, g = h / (nh / nkv);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int gr = lane >> 2, tq = lane & 3;
  const int nq = min(kBM, sg.ntok - q0);  // valid query rows of this block
  const int kv_end = sg.pos0 + q0 + nq;   // positions attended: [0, kv_end)
  const size_t qstride = static_cast<size_t>(nh) * HD;
  const bf16* cache = static_cast<const bf16*>(sg.kv);
  const size_t head_stride = static_cast<size_t>(sg.cap) * HD;
  const bf16* Kb = cache + (static_cast<size_t>(layer) * 2 * nkv + g) * head_stride;
  const bf16* Vb = cache + (static_cast<size_t>(layer) * 2 * nkv + nkv + g) * head_stride;
  constexpr int CPR = HD / 8;  // 16-byte chunks per row

  // Q tile -> shared memory (through sK) -> A fragments in registers.
  for (int c = tid; c < kBM * CPR; c += kThreads) {
    const int r = c / CPR, cc = c % CPR;
    const bool ok = r < nq;
    const bf16* src =
        q + static_cast<size_t>(sg.tok0 + q0 + (ok ? r : 0)) * qstride + static_cast<size_t>(h) * HD + cc * 8;
    dev::cp_async16(sK + r * LD + cc * 8, src, ok ? 16 : 0);
  }
  dev::cp_async_commit();
  dev::cp_async_wait<0>();
  __syncthreads();
  uint32_t qf[KS][4];
  {
    const int mi = lane >> 3, r = lane & 7;
#pragma unroll
    for (int ks = 0; ks < KS; ++ks) {
      const bf16* p = sK + (warp * 16 + (mi & 1) * 8 + r) * LD + ks * 16 + (mi >> 1) * 8;
      dev::ldmatrix_x4(qf[ks][0], qf[ks][1], qf[ks][2], qf[ks][3], p);
    }
  }
  __syncthreads();  // sK is reused for K tiles

  float o[DB][4];
#pragma unroll
  for (int i = 0; i < DB; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_row[2] = {-INFINITY, -INFINITY}, l_row[2] = {0.0f, 0.0f};
  // Positions of this thread's two query rows (g and g + 8 of the warp's 16).
  const int qpos0 = sg.pos0 + q0 + warp * 16 + gr, qpos1 = qpos0 + 8;

  const int ntiles = (kv_end + kBN - 1) / kBN;
  for (int tile = 0; tile < ntiles; ++tile) {
    const int kv0 = tile * kBN;
    for (int c = tid; c < kBN * CPR; c += kThreads) {
      const int r = c / CPR, cc = c % CPR;
      const bool ok = kv0 + r < kv_end;
      dev::cp_async16(sK + r * LD + cc * 8, Kb + static_cast<size_t>(ok ? kv0 + r : 0) * HD + cc * 8, ok ? 16 : 0);
    }
    dev::cp_async_commit();
    for (int c = tid; c < kBN * CPR; c += kThreads) {
      const int r = c / CPR, cc = c % CPR;
      const bool ok = kv0 + r < kv_end;
      dev::cp_async16(sV + r * LD + cc * 8, Vb + static_cast<size_t>(ok ? kv0 + r : 0) * HD + cc * 8, ok ? 16 : 0);
    }
    dev::cp_async_commit();
    dev::cp_async_wait<1>();  // K has landed (V may still be in flight)
    __syncthreads();

    // S = Q K^T for this warp's 16 rows x 64 positions.
    float s[8][4];
#pragma unroll
    for (int nb = 0; nb < 8; ++nb) s[nb][0] = s[nb][1] = s[nb][2] = s[nb][3] = 0.0f;
    {
      const int mi = lane >> 3, r = lane & 7;
#pragma unroll
      for (int ks = 0; ks < KS; ++ks) {
#pragma unroll
        for (int nb = 0; nb < 8; nb += 2) {
          uint32_t b0, b1, b2, b3;
          const bf16* p = sK + ((nb + (mi >> 1)) * 8 + r) * LD + ks * 16 + (mi & 1) * 8;
          dev::ldmatrix_x4(b0, b1, b2, b3, p);
          dev::mma_bf16_16816(s[nb], qf[ks][0], qf[ks][1], qf[ks][2], qf[ks][3], b0, b1);
          dev::mma_bf16_16816(s[nb + 1], qf[ks][0], qf[ks][1], qf[ks][2], qf[ks][3], b2, b3);
        }
      }
    }

    // Causal mask and scale (log2 domain), row maxima across the quad.
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nb = 0; nb < 8; ++nb)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int col = kv0 + nb * 8 + 2 * tq + (e & 1);
        const int qp = e < 2 ? qpos0 : qpos1;
        const float v = (col <= qp && col < kv_end) ? s[nb][e] * scale_log2 : -INFINITY;
        s[nb][e] = v;
        mx[e >> 1] = fmaxf(mx[e >> 1], v);
      }
    float alpha[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
      const float m_new = fmaxf(m_row[i], mx[i]);
      // Position 0 is in the first tile and visible to every row, so m_new is
      // finite from the first tile on; the guard keeps padded rows NaN-free.
      const float base = m_new == -INFINITY ? 0.0f : m_new;
      alpha[i] = exp2f(m_row[i] - base);
      m_row[i] = m_new;
      mx[i] = base;
    }
    float rs[2] = {0.0f, 0.0f};
#pragma unroll
    for (int nb = 0; nb < 8; ++nb)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float p = exp2f(s[nb][e] - mx[e >> 1]);
        s[nb][e] = p;
        rs[e >> 1] += p;
      }
#pragma unroll
    for (int i = 0; i < 2; ++i) l_row[i] = l_row[i] * alpha[i] + rs[i];
#pragma unroll
    for (int db = 0; db < DB; ++db) {
      o[db][0] *= alpha[0];
      o[db][1] *= alpha[0];
      o[db][2] *= alpha[1];
      o[db][3] *= alpha[1];
    }

    dev::cp_async_wait<0>();
    __syncthreads();  // V has landed

    // O += P V: P's accumulator fragments are already A fragments (two n8 blocks per k16 step).
    {
      const int mi = lane >> 3, r = lane & 7;
#pragma unroll
      for (int kp = 0; kp < kBN / 16; ++kp) {
        const uint32_t a0 = dev::pack_bf16x2(s[2 * kp][0], s[2 * kp][1]);
        const uint32_t a1 = dev::pack_bf16x2(s[2 * kp][2], s[2 * kp][3]);
        const uint32_t a2 = dev::pack_bf16x2(s[2 * kp + 1][0], s[2 * kp + 1][1]);
        const uint32_t a3 = dev::pack_bf16x2(s[2 * kp + 1][2], s[2 * kp + 1][3]);
#pragma unroll
        for (int db = 0; db < DB; db += 2) {
          uint32_t b0, b1, b2, b3;
          const bf16* p = sV + (kp * 16 + (mi & 1) * 8 + r) * LD + (db + (mi >> 1)) * 8;
          dev::ldmatrix_x4_trans(b0, b1, b2, b3, p);
          dev::mma_bf16_16816(o[db], a0, a1, a2, a3, b0, b1);
          dev::mma_bf16_16816(o[db + 1], a0, a1, a2, a3, b2, b3);
        }
      }
    }
    __syncthreads();  // the next tile overwrites sK / sV
  }

  // Normalise and store this thread's rows.
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    l_row[i] += __shfl_xor_sync(0xffffffffu, l_row[i], 1);
    l_row[i] += __shfl_xor_sync(0xffffffffu, l_row[i], 2);
  }
  const float inv0 = l_row[0] > 0.0f ? 1.0f / l_row[0] : 0.0f;
  const float inv1 = l_row[1] > 0.0f ? 1.0f / l_row[1] : 0.0f;
  const int r0 = warp * 16 + gr, r1 = r0 + 8;
#pragma unroll
  for (int db = 0; db < DB; ++db) {
    const int d = db * 8 + 2 * tq;
    if (r0 < nq) {
      bf16* dst = out + static_cast<size_t>(sg.tok0 + q0 + r0) * qstride + static_cast<size_t>(h) * HD + d;
      *reinterpret_cast<uint32_t*>(dst) = dev::pack_bf16x2(o[db][0] * inv0, o[db][1] * inv0);
    }
    if (r1 < nq) {
      bf16* dst = out + static_cast<size_t>(sg.tok0 + q0 + r1) * qstride + static_cast<size_t>(h) * HD + d;
      *reinterpret_cast<uint32_t*>(dst) = dev::pack_bf16x2(o[db][2] * inv1, o[db][3] * inv1);
    }
  }
}

}  // namespace

bool prefill_attention_supported(ActType type, int head_dim) {
  return type == ActType::BF16 && (head_dim == 64 || head_dim == 128);
}

void prefill_attention(const void* q, const int32_t* seg_ids, int nseg, int max_ntok, const SegMeta* segs, int heads,
                       const KvLayout& kv, int layer, float scale, void* out, cudaStream_t stream) {
  if (nseg <= 0 || max_ntok <= 0) return;
  const dim3 grid((max_ntok + kBM - 1) / kBM, heads, nseg);
  const float scale_log2 = scale * kLog2e;
  if (kv.head_dim == 128)
    flash_prefill_kernel<128><<<grid, kThreads, 0, stream>>>(static_cast<const bf16*>(q), seg_ids, segs, heads,
                                                             kv.kv_heads, layer, scale_log2, static_cast<bf16*>(out));
  else if (kv.head_dim == 64)
    flash_prefill_kernel<64><<<grid, kThreads, 0, stream>>>(static_cast<const bf16*>(q), seg_ids, segs, heads,
                                                            kv.kv_heads, layer, scale_log2, static_cast<bf16*>(out));
  else
    throw Error("CUDA prefill attention: head_dim " + std::to_string(kv.head_dim) + " is not supported");
  EMU35_LAUNCH_CHECK();
}

}  // namespace emu35::cuda::lmk
