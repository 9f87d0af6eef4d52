// Device-side helpers shared by the transformer kernels: activation-type
// conversions, deterministic (fixed-order) block reductions, a counter-based
// hash for random benchmark data, and the launch-error check.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/cuda_check.h"

// Every launch is followed by this: a bad configuration becomes an Error at once.
#define EMU35_LAUNCH_CHECK() EMU35_CUDA_CHECK(cudaGetLastError())

namespace emu35::cuda::dev {

using bf16 = __nv_bfloat16;

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(bf16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ bf16 from_f32<bf16>(float v) {
  return __float2bfloat16_rn(v);  // round to nearest even, as torch
}

// Any stored float dtype of a checkpoint (DType BF16 = 0, F16 = 1, F32 = 2).
__device__ __forceinline__ float load_stored(const void* p, int dtype, size_t i) {
  if (dtype == 0) return __uint_as_float(static_cast<uint32_t>(static_cast<const uint16_t*>(p)[i]) << 16);
  if (dtype == 1) return __half2float(static_cast<const __half*>(p)[i]);
  return static_cast<const float*>(p)[i];
}

// Sum over the block in a fixed order (warp tree, then warp 0 over the warp
// sums): the same inputs always give the same bits. `red` holds 32 values;
// every thread gets the result. blockDim.x must be a multiple of 32.
template <class V>
__device__ __forceinline__ V block_sum(V v, V* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();  // red may still be read by a previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  V r = lane < nw ? red[lane] : V(0);
  if (warp == 0) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) r += __shfl_xor_sync(0xffffffffu, r, o);
    if (lane == 0) red[0] = r;
  }
  __syncthreads();
  return red[0];
}

template <class V>
__device__ __forceinline__ V block_max(V v, V* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    V r = lane < nw ? red[lane] : red[0];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) r = max(r, __shfl_xor_sync(0xffffffffu, r, o));
    if (lane == 0) red[0] = r;
  }
  __syncthreads();
  return red[0];
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Programmatic dependent launch (sm_90). A kernel launched with
// lmk::launch(..., pdl = true) may start while the previous kernel on the
// stream is still running; it must call pdl_wait() before it reads anything
// that kernel writes (or writes anything it reads). pdl_wait() returns once
// the previous grid has completed and its writes are visible; without PDL it
// returns at once. pdl_launch_dependents() lets the next kernel's blocks be
// scheduled early (they still wait in their own pdl_wait()).
__device__ __forceinline__ void pdl_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void pdl_launch_dependents() { asm volatile("griddepcontrol.launch_dependents;" :::); }

// splitmix64 finaliser: a counter-based hash for reproducible random data.
__host__ __device__ __forceinline__ uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1) from (seed, index).
__device__ __forceinline__ float hash_uniform(uint64_t seed, uint64_t i) {
  const uint64_t h = mix64(mix64(seed) ^ i);
  return static_cast<float>(h >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

}  // namespace emu35::cuda::dev
