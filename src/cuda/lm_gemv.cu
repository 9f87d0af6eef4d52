// Weight-streaming small-batch GEMM with fused epilogues (see lm_gemv.h).
//
// Block = 4 warps = 8 weight rows ("pairs" of rows per warp): rows (2p, 2p+1)
// for Store / Accumulate, rows (p, N/2 + p) -- gate and up of one output --
// for SwiGLU. Lane l handles the 16-byte pieces l, l + 32, ... of both rows,
// kUnroll pieces per row per group; the group after the current one is
// requested before the current one is multiplied.
#include <algorithm>
#include <string>

#include "common/error.h"
#include "cuda/lm_device_util.cuh"
#include "cuda/lm_gemv.h"
#include "cuda/lm_launch.h"

namespace emu35::cuda::lmk {

namespace {
using dev::bf16;

// 4 warps: small blocks let o_proj and down_proj (2560 row pairs) run as one
// wave of 5 blocks per SM instead of 1.2 waves of 8-warp blocks.
constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kUnroll = 4;  // 16-byte pieces per row per group
constexpr int kGroup = 32 * kUnroll;

__device__ __forceinline__ uint4 load_weight(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// acc += sum over the 8 bf16 pairs of (w, x), in element order.
__device__ __forceinline__ float dot8(const uint4& w, const uint4& x, float acc) {
  const uint32_t wv[4] = {w.x, w.y, w.z, w.w}, xv[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    acc = fmaf(__uint_as_float(wv[i] << 16), __uint_as_float(xv[i] << 16), acc);
    acc = fmaf(__uint_as_float(wv[i] & 0xffff0000u), __uint_as_float(xv[i] & 0xffff0000u), acc);
  }
  return acc;
}

template <int M, GemvEpilogue E>
__global__ void __launch_bounds__(kThreads)
    gemv_kernel(const bf16* __restrict__ x, const bf16* __restrict__ w, int N, int K, float* __restrict__ y,
                int64_t ldy, bf16* __restrict__ act) {
  const int lane = threadIdx.x & 31;
  const int pair = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int half = N / 2;
  const int pairs = E == GemvEpilogue::SwiGLU ? half : (N + 1) / 2;
  // A warp past the last pair still takes part in the PDL handshake.
  const bool live = pair < pairs;
  const int r0 = E == GemvEpilogue::SwiGLU ? pair : 2 * pair;
  const int r1 = E == GemvEpilogue::SwiGLU ? pair + half : 2 * pair + 1;
  const bool has1 = live && r1 < N;
  const int nc = K / 8;  // 16-byte pieces per row
  const uint4* w0 = reinterpret_cast<const uint4*>(w) + static_cast<size_t>(live ? r0 : 0) * nc;
  const uint4* w1 = reinterpret_cast<const uint4*>(w) + static_cast<size_t>(has1 ? r1 : 0) * nc;
  const uint4* xr = reinterpret_cast<const uint4*>(x);
  const uint4 zero = make_uint4(0, 0, 0, 0);

  uint4 a[kUnroll], b[kUnroll];
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int c = lane + 32 * u;
    a[u] = live && c < nc ? load_weight(w0 + c) : zero;
    b[u] = has1 && c < nc ? load_weight(w1 + c) : zero;
  }
  // Weights never change: the loads above may overlap the previous kernel.
  dev::pdl_wait();
  dev::pdl_launch_dependents();

  float acc0[M], acc1[M];
#pragma unroll
  for (int m = 0; m < M; ++m) acc0[m] = acc1[m] = 0.0f;
  if (live) {
    for (int base = lane; base < nc; base += kGroup) {
      uint4 na[kUnroll], nb[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int c = base + kGroup + 32 * u;
        na[u] = c < nc ? load_weight(w0 + c) : zero;
        nb[u] = has1 && c < nc ? load_weight(w1 + c) : zero;
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int c = base + 32 * u;
        if (c < nc) {
#pragma unroll
          for (int m = 0; m < M; ++m) {
            const uint4 xv = __ldg(xr + static_cast<size_t>(m) * nc + c);
            acc0[m] = dot8(a[u], xv, acc0[m]);
            acc1[m] = dot8(b[u], xv, acc1[m]);
          }
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        a[u] = na[u];
        b[u] = nb[u];
      }
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
#pragma unroll
    for (int m = 0; m < M; ++m) {
      acc0[m] += __shfl_xor_sync(0xffffffffu, acc0[m], o);
      acc1[m] += __shfl_xor_sync(0xffffffffu, acc1[m], o);
    }
  if (!live || lane != 0) return;
#pragma unroll
  for (int m = 0; m < M; ++m) {
    if constexpr (E == GemvEpilogue::SwiGLU) {
      const float g = acc0[m], u = acc1[m];
      act[static_cast<size_t>(m) * half + pair] = __float2bfloat16_rn((g / (1.0f + expf(-g))) * u);
    } else {
      float* y0 = y + static_cast<int64_t>(m) * ldy + r0;
      if constexpr (E == GemvEpilogue::Accumulate) {
        y0[0] += acc0[m];
        if (has1) y0[1] += acc1[m];
      } else {
        y0[0] = acc0[m];
        if (has1) y0[1] = acc1[m];
      }
    }
  }
}

template <GemvEpilogue E>
void launch_for_rows(const GemvArgs& a, dim3 grid, cudaStream_t s) {
  const auto* x = static_cast<const bf16*>(a.x);
  const auto* w = static_cast<const bf16*>(a.w);
  auto* act = static_cast<bf16*>(a.act);
  const int N = static_cast<int>(a.N), K = static_cast<int>(a.K);
  switch (a.M) {
#define EMU35_GEMV_CASE(m) \
  case m:                  \
    launch(a.pdl, gemv_kernel<m, E>, grid, dim3(kThreads), 0, s, x, w, N, K, a.y, a.ldy, act); \
    break;
    EMU35_GEMV_CASE(1)
    EMU35_GEMV_CASE(2)
    EMU35_GEMV_CASE(3)
    EMU35_GEMV_CASE(4)
    EMU35_GEMV_CASE(5)
    EMU35_GEMV_CASE(6)
    EMU35_GEMV_CASE(7)
    EMU35_GEMV_CASE(8)
#undef EMU35_GEMV_CASE
    default: throw Error("gemv_bf16: M=" + std::to_string(a.M) + " is outside 1.." + std::to_string(kGemvMaxRows));
  }
}

__global__ void __launch_bounds__(kThreads) stream_read_kernel(const uint4* __restrict__ p, size_t n, unsigned* sink) {
  unsigned v = 0;
  const size_t stride = size_t(gridDim.x) * kThreads;
  size_t i = size_t(blockIdx.x) * kThreads + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    uint4 r[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) r[u] = load_weight(p + i + u * stride);
#pragma unroll
    for (int u = 0; u < 4; ++u) v ^= r[u].x ^ r[u].y ^ r[u].z ^ r[u].w;
  }
  for (; i < n; i += stride) {
    const uint4 r = load_weight(p + i);
    v ^= r.x ^ r.y ^ r.z ^ r.w;
  }
  v = __reduce_xor_sync(0xffffffffu, v);
  if (threadIdx.x == 0) sink[blockIdx.x] = v;  // one word per block; the warps' values need not agree
}

}  // namespace

unsigned grid_for_read(size_t bytes) {
  int sms = 0, dev = 0;
  EMU35_CUDA_CHECK(cudaGetDevice(&dev));
  EMU35_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  const size_t blocks = (bytes / 16 + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::min<size_t>(blocks, size_t(sms) * 8));
}

void stream_read(const void* p, size_t bytes, unsigned* sink, cudaStream_t stream) {
  if (bytes == 0) return;
  if (bytes % 16 != 0 || reinterpret_cast<uintptr_t>(p) % 16 != 0)
    throw Error("stream_read: needs 16-byte aligned, 16-byte multiple buffers");
  launch(false, stream_read_kernel, dim3(grid_for_read(bytes)), dim3(kThreads), 0, stream,
         static_cast<const uint4*>(p), bytes / 16, sink);
}

bool gemv_supported(int M, int64_t K) { return M >= 1 && M <= kGemvMaxRows && K >= 8 && K % 8 == 0; }

void gemv_bf16(const GemvArgs& a, cudaStream_t stream) {
  if (!gemv_supported(a.M, a.K))
    throw Error("gemv_bf16: unsupported shape M=" + std::to_string(a.M) + " K=" + std::to_string(a.K));
  if (a.N <= 0) return;
  if (a.N > (int64_t{1} << 31) - 16 || a.K > (int64_t{1} << 31) - 1) throw Error("gemv_bf16: matrix too large");
  const bool swiglu = a.epilogue == GemvEpilogue::SwiGLU;
  if (swiglu ? (a.N % 2 != 0 || !a.act) : !a.y) throw Error("gemv_bf16: missing output or odd gate/up rows");
  const int64_t pairs = swiglu ? a.N / 2 : (a.N + 1) / 2;
  const dim3 grid(static_cast<unsigned>((pairs + kWarps - 1) / kWarps));
  switch (a.epilogue) {
    case GemvEpilogue::Store: launch_for_rows<GemvEpilogue::Store>(a, grid, stream); break;
    case GemvEpilogue::Accumulate: launch_for_rows<GemvEpilogue::Accumulate>(a, grid, stream); break;
    case GemvEpilogue::SwiGLU: launch_for_rows<GemvEpilogue::SwiGLU>(a, grid, stream); break;
  }
}

}  // namespace emu35::cuda::lmk
