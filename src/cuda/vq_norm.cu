// GroupNorm (+ swish) on the GPU, statistics in double as the CPU reference.
#include <algorithm>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "cuda/cuda_check.h"
#include "cuda/vq_kernels.h"
#include "cuda/vq_reduce.cuh"

namespace emu35::cuda::ibq {

namespace {

constexpr int kThreads = 256;
constexpr size_t kChunk = 4096;  // elements per partial: many blocks even for 32 groups

// count, mean and sum of squared deviations of one chunk (or of merged chunks).
struct Moments {
  double n, mean, m2;
};

__device__ Moments merge(const Moments& a, const Moments& b) {
  if (a.n == 0) return b;
  if (b.n == 0) return a;
  const double n = a.n + b.n;
  const double d = b.mean - a.mean;
  return {n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n * (b.n / n))};
}

// grid (chunks, groups): two passes over one chunk (the second from cache).
__global__ void moments_kernel(const float* __restrict__ x, size_t group_elems, int chunks, Moments* __restrict__ out) {
  __shared__ double sh[33];
  const int g = blockIdx.y, chunk = blockIdx.x;
  const size_t begin = size_t(chunk) * kChunk;
  const size_t end = min(group_elems, begin + kChunk);
  const float* p = x + size_t(g) * group_elems;
  double s = 0;
  for (size_t i = begin + threadIdx.x; i < end; i += blockDim.x) s += double(p[i]);
  s = block_sum(s, sh);
  const double n = double(end - begin);
  const double mean = s / n;
  double q = 0;
  for (size_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double d = double(p[i]) - mean;
    q += d * d;
  }
  q = block_sum(q, sh);
  if (threadIdx.x == 0) out[size_t(g) * size_t(chunks) + size_t(chunk)] = {n, mean, q};
}

// grid (groups), kThreads threads: merges the chunks in a fixed order
// (deterministic), then the per-channel affine factors.
__global__ void finalize_kernel(const Moments* __restrict__ parts, int chunks, int cpg, const float* __restrict__ gamma,
                                const float* __restrict__ beta, float eps, double* __restrict__ scale,
                                double* __restrict__ shift) {
  __shared__ Moments sh[kThreads];
  const int g = blockIdx.x;
  Moments acc{0, 0, 0};
  for (int i = threadIdx.x; i < chunks; i += blockDim.x) acc = merge(acc, parts[size_t(g) * size_t(chunks) + size_t(i)]);
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] = merge(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  const Moments tot = sh[0];
  const double var = tot.m2 / tot.n;  // biased, as GroupNorm
  const double rstd = 1.0 / sqrt(var + double(eps));
  for (int c = threadIdx.x; c < cpg; c += blockDim.x) {
    const int ch = g * cpg + c;
    const double a = double(gamma[ch]) * rstd;
    scale[ch] = a;
    shift[ch] = double(beta[ch]) - tot.mean * a;
  }
}

template <bool kSwish>
__device__ __forceinline__ float affine(float v, double a, double b) {
  float y = float(double(v) * a + b);
  if (kSwish) y = y / (1.0f + expf(-y));
  return y;
}

// grid (blocks, channels): one channel per blockIdx.y; float4 when `vec`
// (plane % 4 == 0 and both pointers 16-byte aligned). x may equal y.
template <bool kSwish>
__global__ void apply_kernel(const float* x, float* y, size_t plane, bool vec, const double* __restrict__ scale,
                             const double* __restrict__ shift) {
  const int c = blockIdx.y;
  const double a = scale[c], b = shift[c];
  const float* src = x + size_t(c) * plane;
  float* dst = y + size_t(c) * plane;
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  if (vec) {
    const float4* s4 = reinterpret_cast<const float4*>(src);
    float4* d4 = reinterpret_cast<float4*>(dst);
    for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < plane / 4; i += stride) {
      float4 v = s4[i];
      v.x = affine<kSwish>(v.x, a, b);
      v.y = affine<kSwish>(v.y, a, b);
      v.z = affine<kSwish>(v.z, a, b);
      v.w = affine<kSwish>(v.w, a, b);
      d4[i] = v;
    }
  } else {
    for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < plane; i += stride)
      dst[i] = affine<kSwish>(src[i], a, b);
  }
}

size_t align256(size_t b) { return (b + 255) / 256 * 256; }

}  // namespace

size_t group_norm_scratch_bytes(int channels, size_t plane, int groups) {
  const size_t group_elems = size_t(channels / groups) * plane;
  const size_t chunks = (group_elems + kChunk - 1) / kChunk;
  return align256(size_t(groups) * chunks * sizeof(Moments)) + 2 * align256(size_t(channels) * sizeof(double));
}

void group_norm(const float* x, float* y, int channels, size_t plane, const float* gamma, const float* beta,
                int groups, float eps, bool swish, void* scratch, cudaStream_t stream) {
  if (groups <= 0 || channels % groups != 0)
    throw Error("group_norm: " + std::to_string(channels) + " channels do not split into " + std::to_string(groups) +
                " groups");
  if (plane == 0) throw Error("group_norm: empty picture");
  const int cpg = channels / groups;
  const size_t group_elems = size_t(cpg) * plane;
  const size_t chunks = (group_elems + kChunk - 1) / kChunk;
  if (chunks > size_t(INT32_MAX) || groups > 65535 || channels > 65535)
    throw Error("group_norm: a " + std::to_string(channels) + "-channel picture of " + std::to_string(plane) +
                " pixels is too large");
  char* base = static_cast<char*>(scratch);
  auto* parts = reinterpret_cast<Moments*>(base);
  auto* scale = reinterpret_cast<double*>(base + align256(size_t(groups) * chunks * sizeof(Moments)));
  auto* shift = scale + align256(size_t(channels) * sizeof(double)) / sizeof(double);

  moments_kernel<<<dim3(unsigned(chunks), unsigned(groups)), kThreads, 0, stream>>>(x, group_elems, int(chunks), parts);
  EMU35_CUDA_CHECK(cudaGetLastError());
  finalize_kernel<<<groups, kThreads, 0, stream>>>(parts, int(chunks), cpg, gamma, beta, eps, scale, shift);
  EMU35_CUDA_CHECK(cudaGetLastError());
  const bool vec = plane % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
  const size_t work = vec ? plane / 4 : plane;
  const unsigned blocks = unsigned(std::min<size_t>((work + kThreads - 1) / kThreads, 1024));
  const dim3 grid(blocks, unsigned(channels));
  if (swish) apply_kernel<true><<<grid, kThreads, 0, stream>>>(x, y, plane, vec, scale, shift);
  else apply_kernel<false><<<grid, kThreads, 0, stream>>>(x, y, plane, vec, scale, shift);
  EMU35_CUDA_CHECK(cudaGetLastError());
}

}  // namespace emu35::cuda::ibq
