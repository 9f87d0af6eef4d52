// Small transformer kernels: embedding lookup, SwiGLU, row
// gather, dtype conversion, and random fills for benchmark weights.
#include <algorithm>

#include "cuda/lm_device_util.cuh"
#include "cuda/lm_kernels.h"
#include "cuda/lm_launch.h"

namespace emu35::cuda::lmk {

namespace {
using dev::bf16;

unsigned blocks_for(size_t n, int threads) {
  const size_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::min<size_t>(b, size_t(1) << 20));  // grid-stride loops cover the rest
}

int dtype_code(DType t) {
  switch (t) {
    case DType::BF16:
      return 0;
    case DType::F16:
      return 1;
    case DType::F32:
      return 2;
    default:
      throw Error("CUDA backend: unsupported stored dtype " + std::string(dtype_name(t)));
  }
}

__global__ void embed_kernel(const int32_t* ids, const void* table, int dtype, int H, float* x) {
  const int t = blockIdx.x;
  const size_t base = static_cast<size_t>(ids ? ids[t] : t) * H;
  for (int c = threadIdx.x; c < H; c += blockDim.x)
    x[static_cast<size_t>(t) * H + c] = dev::load_stored(table, dtype, base + c);
}

__global__ void embed_random_kernel(const int32_t* ids, int H, uint64_t seed, float scale, float* x) {
  const int t = blockIdx.x;
  const uint64_t base = static_cast<uint64_t>(ids[t]) * H;
  for (int c = threadIdx.x; c < H; c += blockDim.x)
    x[static_cast<size_t>(t) * H + c] = scale * dev::hash_uniform(seed, base + c);
}

template <class T>
__global__ void swiglu_kernel(const float* gu, int T_, int I, T* out) {
  const size_t n = static_cast<size_t>(T_) * I;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const size_t t = i / I, j = i % I;
    const float g = gu[t * 2 * I + j], u = gu[t * 2 * I + I + j];
    out[i] = dev::from_f32<T>((g / (1.0f + expf(-g))) * u);
  }
}

template <class T>
__global__ void gather_rows_kernel(const T* src, const int32_t* idx, int H, T* dst) {
  dev::pdl_wait();
  dev::pdl_launch_dependents();
  const int r = blockIdx.x;
  const T* s = src + static_cast<size_t>(idx[r]) * H;
  for (int c = threadIdx.x; c < H; c += blockDim.x) dst[static_cast<size_t>(r) * H + c] = s[c];
}

template <class T>
__global__ void convert_kernel(const void* src, int dtype, T* dst, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    dst[i] = dev::from_f32<T>(dev::load_stored(src, dtype, i));
}

template <class T>
__global__ void fill_random_kernel(T* dst, size_t n, uint64_t seed, float scale) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    dst[i] = dev::from_f32<T>(scale * dev::hash_uniform(seed, i));
}

__global__ void fill_f32_kernel(float* dst, size_t n, float v) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) dst[i] = v;
}

}  // namespace

void embed(const int32_t* ids, int T, const void* table, DType table_dtype, int H, float* x, cudaStream_t stream) {
  if (T <= 0) return;
  embed_kernel<<<T, 256, 0, stream>>>(ids, table, dtype_code(table_dtype), H, x);
  EMU35_LAUNCH_CHECK();
}

void embed_random(const int32_t* ids, int T, int H, uint64_t seed, float scale, float* x, cudaStream_t stream) {
  if (T <= 0) return;
  embed_random_kernel<<<T, 256, 0, stream>>>(ids, H, seed, scale, x);
  EMU35_LAUNCH_CHECK();
}

void swiglu(const float* gu, int T, int I, void* out, ActType type, cudaStream_t stream) {
  const size_t n = static_cast<size_t>(T) * I;
  if (n == 0) return;
  if (type == ActType::BF16)
    swiglu_kernel<bf16><<<blocks_for(n, 256), 256, 0, stream>>>(gu, T, I, static_cast<bf16*>(out));
  else
    swiglu_kernel<float><<<blocks_for(n, 256), 256, 0, stream>>>(gu, T, I, static_cast<float*>(out));
  EMU35_LAUNCH_CHECK();
}

void gather_rows(const void* src, const int32_t* idx, int R, int H, ActType type, void* dst, cudaStream_t stream,
                 bool pdl) {
  if (R <= 0) return;
  if (type == ActType::BF16)
    launch(pdl, gather_rows_kernel<bf16>, dim3(R), dim3(256), 0, stream, static_cast<const bf16*>(src), idx, H,
           static_cast<bf16*>(dst));
  else
    launch(pdl, gather_rows_kernel<float>, dim3(R), dim3(256), 0, stream, static_cast<const float*>(src), idx, H,
           static_cast<float*>(dst));
}

void convert(const void* src, DType src_dtype, void* dst, ActType dst_type, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  const int code = dtype_code(src_dtype);
  if (dst_type == ActType::BF16)
    convert_kernel<bf16><<<blocks_for(n, 256), 256, 0, stream>>>(src, code, static_cast<bf16*>(dst), n);
  else
    convert_kernel<float><<<blocks_for(n, 256), 256, 0, stream>>>(src, code, static_cast<float*>(dst), n);
  EMU35_LAUNCH_CHECK();
}

void fill_random(void* dst, ActType type, size_t n, uint64_t seed, float scale, cudaStream_t stream) {
  if (n == 0) return;
  if (type == ActType::BF16)
    fill_random_kernel<bf16><<<blocks_for(n, 256), 256, 0, stream>>>(static_cast<bf16*>(dst), n, seed, scale);
  else
    fill_random_kernel<float><<<blocks_for(n, 256), 256, 0, stream>>>(static_cast<float*>(dst), n, seed, scale);
  EMU35_LAUNCH_CHECK();
}

void fill_f32(float* dst, size_t n, float value, cudaStream_t stream) {
  if (n == 0) return;
  fill_f32_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(dst, n, value);
  EMU35_LAUNCH_CHECK();
}

}  // namespace emu35::cuda::lmk
