// Weight-streaming GEMM for M <= 16 rows (see lm_gemv.h).
//
// K permutation: lane (g, t) loads W[n0+g][kk .. kk+8) and W[n0+g+8][kk ..
// kk+8) with kk = k + 8t, and x[m][kk .. kk+8) for m = nt*8 + g. The first MMA
// takes elements 0-3 of those 16-byte pieces, the second elements 4-7:
//   MMA 1: a0 = w0.x, a1 = w1.x, a2 = w0.y, a3 = w1.y; b0 = x.x, b1 = x.y
//   MMA 2: a0 = w0.z, a1 = w1.z, a2 = w0.w, a3 = w1.w; b0 = x.z, b1 = x.w
// so fragment slot (2t, 2t+1) holds k = kk + {0,1} and slot (2t+8, 2t+9) holds
// k = kk + {2,3} (MMA 1), + {4,5} / + {6,7} (MMA 2), identically in A and B:
// every product W[n][k] x[m][k] is formed exactly once.
#include <algorithm>

#include "cuda/lm_device_util.cuh"
#include "cuda/lm_gemv.h"
#include "cuda/lm_mma.cuh"

namespace emu35::cuda::lmk {

namespace {
using dev::bf16;

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kUnroll = 4;  // 32-element K steps in flight per warp

template <int NT>
__global__ void __launch_bounds__(kThreads)
    gemv_kernel(const bf16* __restrict__ x, int M, const bf16* __restrict__ w, int N, int K, float* __restrict__ y,
                int64_t ldy, int splits, int ksplit, float* __restrict__ ws, unsigned* __restrict__ counters) {
  __shared__ float red[kWarps][NT][4][32];
  __shared__ bool s_last;
  const int tile = blockIdx.x, split = blockIdx.y;
  const int n0 = tile * 16;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;

  const int kb = split * ksplit, ke = min(K, kb + ksplit);
  const int per = ((ke - kb + kWarps * 32 - 1) / (kWarps * 32)) * 32;
  const int wb = kb + warp * per, we = min(ke, wb + per);

  const bool ok0 = n0 + g < N, ok1 = n0 + g + 8 < N;
  const bf16* w0 = w + static_cast<size_t>(ok0 ? n0 + g : 0) * K;
  const bf16* w1 = w + static_cast<size_t>(ok1 ? n0 + g + 8 : 0) * K;
  const bf16* xr[NT];
  bool xok[NT];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    const int m = nt * 8 + g;
    xok[nt] = m < M;
    xr[nt] = x + static_cast<size_t>(xok[nt] ? m : 0) * K;
  }

  float acc[NT][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;

  const uint4 zero = make_uint4(0, 0, 0, 0);
  for (int k = wb; k < we; k += 32 * kUnroll) {
    uint4 a[kUnroll], b[kUnroll], xv[kUnroll][NT];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int kk = k + u * 32 + 8 * t;
      const bool in = kk < we;
      a[u] = (in && ok0) ? __ldcs(reinterpret_cast<const uint4*>(w0 + kk)) : zero;
      b[u] = (in && ok1) ? __ldcs(reinterpret_cast<const uint4*>(w1 + kk)) : zero;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
        xv[u][nt] = (in && xok[nt]) ? __ldg(reinterpret_cast<const uint4*>(xr[nt] + kk)) : zero;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        dev::mma_bf16_16816(acc[nt], a[u].x, b[u].x, a[u].y, b[u].y, xv[u][nt].x, xv[u][nt].y);
        dev::mma_bf16_16816(acc[nt], a[u].z, b[u].z, a[u].w, b[u].w, xv[u][nt].z, xv[u][nt].w);
      }
  }

  // The block's four K quarters, added in warp order.
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) red[warp][nt][e][lane] = acc[nt][e];
  __syncthreads();
  if (warp == 0) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float v = red[0][nt][e][lane];
#pragma unroll
        for (int w_ = 1; w_ < kWarps; ++w_) v += red[w_][nt][e][lane];
        const int row = g + (e >= 2 ? 8 : 0), m = nt * 8 + 2 * t + (e & 1);
        if (n0 + row >= N || m >= M) continue;
        if (splits == 1)
          y[static_cast<int64_t>(m) * ldy + n0 + row] = v;
        else
          ws[((static_cast<size_t>(split) * gridDim.x + tile) * 16 + row) * 16 + m] = v;
      }
  }
  if (splits == 1) return;

  // Split K: the last block to finish this row tile adds the partials in split order.
  __threadfence();
  __syncthreads();
  if (tid == 0) s_last = atomicAdd(&counters[tile], 1u) == static_cast<unsigned>(splits - 1);
  __syncthreads();
  if (!s_last) return;
  __threadfence();
  if (warp == 0) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int row = g + (e >= 2 ? 8 : 0), m = nt * 8 + 2 * t + (e & 1);
        if (n0 + row >= N || m >= M) continue;
        float v = 0.0f;
        for (int s = 0; s < splits; ++s)
          v += __ldcg(&ws[((static_cast<size_t>(s) * gridDim.x + tile) * 16 + row) * 16 + m]);
        y[static_cast<int64_t>(m) * ldy + n0 + row] = v;
      }
  }
  if (tid == 0) counters[tile] = 0;  // ready for the next call
}

int64_t tiles_of(int64_t N) { return (N + 15) / 16; }

// Elements of K per split: a multiple of 32, and the split count it implies.
void split_plan(int64_t K, int splits, int* ksplit, int* eff) {
  const int64_t per = ((K + splits - 1) / splits + 31) / 32 * 32;
  *ksplit = static_cast<int>(std::max<int64_t>(per, 32));
  *eff = static_cast<int>((K + *ksplit - 1) / *ksplit);
}

}  // namespace

bool gemv_supported(int M, int64_t K) { return M >= 1 && M <= kGemvMaxRows && K >= 8 && K % 8 == 0; }

int gemv_splits(int64_t N, int64_t K, int num_sms) {
  const int64_t tiles = tiles_of(N);
  const int64_t target = 8LL * std::max(num_sms, 1);  // blocks for an even spread over the SMs
  const int64_t want = (target + tiles - 1) / tiles;
  const int64_t cap = std::max<int64_t>(1, K / 512);  // keep >= 512 elements per split
  int eff = 1, ksplit = 0;
  split_plan(K, static_cast<int>(std::clamp<int64_t>(want, 1, std::min<int64_t>(cap, 64))), &ksplit, &eff);
  return eff;
}

size_t gemv_workspace_floats(int64_t N, int splits) {
  return splits > 1 ? static_cast<size_t>(splits) * static_cast<size_t>(tiles_of(N)) * 256 : 0;
}

size_t gemv_counters(int64_t N) { return static_cast<size_t>(tiles_of(N)); }

void gemv_bf16(const void* x, int M, const void* w, int64_t N, int64_t K, float* y, int64_t ldy, int splits,
               float* workspace, unsigned* counters, cudaStream_t stream) {
  if (!gemv_supported(M, K))
    throw Error("gemv_bf16: unsupported shape M=" + std::to_string(M) + " K=" + std::to_string(K));
  if (N <= 0) return;
  if (N > (int64_t{1} << 31) - 16 || K > (int64_t{1} << 31) - 1) throw Error("gemv_bf16: matrix too large");
  int ksplit = 0, eff = 1;
  split_plan(K, std::max(splits, 1), &ksplit, &eff);
  if (eff > 1 && (!workspace || !counters)) throw Error("gemv_bf16: split K needs a workspace");
  const dim3 grid(static_cast<unsigned>(tiles_of(N)), static_cast<unsigned>(eff));
  const bf16* xb = static_cast<const bf16*>(x);
  const bf16* wb = static_cast<const bf16*>(w);
  if (M <= 8)
    gemv_kernel<1><<<grid, kThreads, 0, stream>>>(xb, M, wb, static_cast<int>(N), static_cast<int>(K), y, ldy, eff,
                                                  ksplit, workspace, counters);
  else
    gemv_kernel<2><<<grid, kThreads, 0, stream>>>(xb, M, wb, static_cast<int>(N), static_cast<int>(K), y, ldy, eff,
                                                  ksplit, workspace, counters);
  EMU35_LAUNCH_CHECK();
}

}  // namespace emu35::cuda::lmk
