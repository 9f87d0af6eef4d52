// RMSNorm kernels: the fused residual add + RMSNorm between the sublayers, and
// the per-head q/k RMSNorm + RoPE that also writes K and V into the cache.
// Both follow the CPU's operation order (sum of squares in double, then
// float32 rsqrt, y = w * (x * r)) so the fp32 runner matches it to rounding.
#include "cuda/lm_device_util.cuh"
#include "cuda/lm_kernels.h"
#include "cuda/lm_launch.h"

namespace emu35::cuda::lmk {

namespace {
using dev::bf16;

template <class T>
__global__ void __launch_bounds__(1024)
    add_rmsnorm_kernel(float* __restrict__ x, const float* __restrict__ delta, const float* __restrict__ w,
                       T* __restrict__ out, int H, float eps) {
  __shared__ double red[32];
  dev::pdl_wait();
  dev::pdl_launch_dependents();
  const size_t row = static_cast<size_t>(blockIdx.x) * H;
  float* xr = x + row;
  double ss = 0;
  for (int i = threadIdx.x; i < H; i += blockDim.x) {
    float v = xr[i];
    if (delta) {
      v += delta[row + i];
      xr[i] = v;
    }
    ss += static_cast<double>(v) * static_cast<double>(v);
  }
  ss = dev::block_sum(ss, red);
  const float var = static_cast<float>(ss / static_cast<double>(H));
  const float r = 1.0f / sqrtf(var + eps);
  for (int i = threadIdx.x; i < H; i += blockDim.x) out[row + i] = dev::from_f32<T>(w[i] * (xr[i] * r));
}

// Grid (token, head group), one warp per head: nh q heads, nkv k heads, nkv v heads.
template <class T>
__global__ void qk_norm_rope_kernel(const float* __restrict__ qkv, const TokMeta* __restrict__ toks,
                                    const SegMeta* __restrict__ segs, const float* __restrict__ q_norm,
                                    const float* __restrict__ k_norm, const float* __restrict__ cos_t,
                                    const float* __restrict__ sin_t, int nh, int nkv, int hd, int layer, float eps,
                                    T* __restrict__ q_out) {
  dev::pdl_wait();
  dev::pdl_launch_dependents();
  const int t = blockIdx.x;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  const TokMeta tk = toks[t];
  const SegMeta sg = segs[tk.seg];
  const int half = hd / 2;
  const float* row = qkv + static_cast<size_t>(t) * (nh + 2 * nkv) * hd;
  const float* cs = cos_t + static_cast<size_t>(tk.pos) * half;
  const float* sn = sin_t + static_cast<size_t>(tk.pos) * half;
  T* cache = static_cast<T*>(sg.kv);
  // Block (t, y) takes heads y * nwarps .. y * nwarps + nwarps - 1: a warp per head, so
  // a decode step's few tokens still spread over many SMs.
  for (int h = blockIdx.y * nwarps + warp; h < nh + 2 * nkv; h += gridDim.y * nwarps) {
    const float* src = row + static_cast<size_t>(h) * hd;
    T* dst;
    if (h < nh) {
      dst = q_out + (static_cast<size_t>(t) * nh + h) * hd;
    } else {
      const int kvsel = h < nh + nkv ? 0 : 1;
      const int g = kvsel == 0 ? h - nh : h - nh - nkv;
      dst = cache + ((static_cast<size_t>(layer) * 2 + kvsel) * nkv + g) * static_cast<size_t>(sg.cap) * hd +
            static_cast<size_t>(tk.pos) * hd;
    }
    if (h >= nh + nkv) {  // V: stored as is
      for (int i = lane; i < hd; i += 32) dst[i] = dev::from_f32<T>(src[i]);
      continue;
    }
    const float* w = h < nh ? q_norm : k_norm;
    double ss = 0;
    for (int i = lane; i < hd; i += 32) ss += static_cast<double>(src[i]) * static_cast<double>(src[i]);
    ss = dev::warp_sum(ss);
    const float var = static_cast<float>(ss / static_cast<double>(hd));
    const float r = 1.0f / sqrtf(var + eps);
    for (int i = lane; i < half; i += 32) {
      const float a = w[i] * (src[i] * r), b = w[i + half] * (src[i + half] * r);
      const float c = cs[i], s = sn[i];
      const float ac = a * c, bs = b * s, bc = b * c, as = a * s;
      dst[i] = dev::from_f32<T>(ac - bs);
      dst[i + half] = dev::from_f32<T>(bc + as);
    }
    for (int i = 2 * half + lane; i < hd; i += 32) dst[i] = dev::from_f32<T>(w[i] * (src[i] * r));  // odd head_dim
  }
}

int norm_threads(int H) { return H >= 4096 ? 1024 : H >= 1024 ? 512 : H >= 256 ? 256 : 128; }

}  // namespace

void add_rmsnorm(float* x, const float* delta, const float* w, void* out, ActType type, int T, int H, float eps,
                 cudaStream_t stream, bool pdl) {
  if (T <= 0) return;
  if (type == ActType::BF16)
    launch(pdl, add_rmsnorm_kernel<bf16>, dim3(T), dim3(norm_threads(H)), 0, stream, x, delta, w,
           static_cast<bf16*>(out), H, eps);
  else
    launch(pdl, add_rmsnorm_kernel<float>, dim3(T), dim3(norm_threads(H)), 0, stream, x, delta, w,
           static_cast<float*>(out), H, eps);
}

void qk_norm_rope(const float* qkv, int T, const TokMeta* toks, const SegMeta* segs, const float* q_norm,
                  const float* k_norm, const float* cos_t, const float* sin_t, int nh, const KvLayout& kv, int layer,
                  float eps, void* q_out, ActType type, cudaStream_t stream, bool pdl) {
  if (T <= 0) return;
  constexpr int threads = 256;
  const int heads = nh + 2 * kv.kv_heads;
  const dim3 grid(T, (heads + threads / 32 - 1) / (threads / 32));
  if (type == ActType::BF16)
    launch(pdl, qk_norm_rope_kernel<bf16>, grid, dim3(threads), 0, stream, qkv, toks, segs, q_norm, k_norm, cos_t,
           sin_t, nh, kv.kv_heads, kv.head_dim, layer, eps, static_cast<bf16*>(q_out));
  else
    launch(pdl, qk_norm_rope_kernel<float>, grid, dim3(threads), 0, stream, qkv, toks, segs, q_norm, k_norm, cos_t,
           sin_t, nh, kv.kv_heads, kv.head_dim, layer, eps, static_cast<float*>(q_out));
}

}  // namespace emu35::cuda::lmk
