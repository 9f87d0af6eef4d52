// Elementwise IBQ kernels: bias + residual, nearest upsampling, the
// Downsample padding, and pixel conversions in and out.
#include <algorithm>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "cuda/cuda_check.h"
#include "cuda/vq_kernels.h"

namespace emu35::cuda::ibq {

namespace {

constexpr int kThreads = 256;

// Planes handled with 32-bit indices (4x the largest input plane, for the upsampled output).
constexpr size_t kMaxPlane = size_t(1) << 29;

void check_plane(size_t plane, const char* what) {
  if (plane == 0 || plane > kMaxPlane)
    throw Error(std::string(what) + ": a plane of " + std::to_string(plane) + " pixels is empty or too large");
}

unsigned blocks_for(size_t work) {
  return unsigned(std::max<size_t>(1, std::min<size_t>((work + kThreads - 1) / kThreads, 4096)));
}

// grid (blocks, channels).
template <bool kResidual>
__global__ void bias_residual_kernel(float* y, const float* __restrict__ bias, const float* residual, size_t plane) {
  const int c = blockIdx.y;
  const float b = bias[c];
  float* d = y + size_t(c) * plane;
  const float* r = kResidual ? residual + size_t(c) * plane : nullptr;
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < plane; i += stride) {
    float v = d[i] + b;  // the convolution sum + bias first, as the CPU (GEMM onto the bias)
    if (kResidual) v += r[i];
    d[i] = v;
  }
}

// 32x32 tiles through shared memory (padded against bank conflicts); grid
// (tiles, batch) with the column tile fastest, block 32x8.
__global__ void transpose_kernel(const float* __restrict__ in, float* __restrict__ out, size_t rows, size_t cols,
                                 unsigned col_tiles) {
  __shared__ float tile[32][33];
  const size_t mat = rows * cols;
  const float* src = in + size_t(blockIdx.y) * mat;
  float* dst = out + size_t(blockIdx.y) * mat;
  const size_t c0 = size_t(blockIdx.x % col_tiles) * 32, r0 = size_t(blockIdx.x / col_tiles) * 32;
  for (int i = threadIdx.y; i < 32; i += 8) {
    const size_t r = r0 + i, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[i][threadIdx.x] = src[r * cols + c];
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += 8) {
    const size_t c = c0 + i, r = r0 + threadIdx.x;  // out row c, column r
    if (r < rows && c < cols) dst[c * rows + r] = tile[threadIdx.x][i];
  }
}

// grid (blocks, channels): one thread per input pixel writes its 2x2 block.
// In-plane indices are 32-bit (planes are checked to fit): no 64-bit division.
__global__ void upsample_kernel(const float* __restrict__ x, float* __restrict__ y, unsigned h, unsigned w) {
  const unsigned plane = h * w;
  const float* src = x + size_t(blockIdx.y) * plane;
  float* dst = y + size_t(blockIdx.y) * plane * 4;
  const unsigned ow = 2 * w;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < plane; i += gridDim.x * blockDim.x) {
    const unsigned iy = i / w, ix = i % w;
    const float v = src[i];
    float* d0 = dst + size_t(2 * iy) * ow + 2 * ix;
    d0[0] = v;
    d0[1] = v;
    d0[ow] = v;
    d0[ow + 1] = v;
  }
}

__global__ void pad_kernel(const float* __restrict__ x, float* __restrict__ y, unsigned h, unsigned w) {
  const unsigned ow = w + 1, oplane = (h + 1) * ow;
  const float* src = x + size_t(blockIdx.y) * h * w;
  float* dst = y + size_t(blockIdx.y) * oplane;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < oplane; i += gridDim.x * blockDim.x) {
    const unsigned oy = i / ow, ox = i % ow;
    dst[i] = (oy < h && ox < w) ? src[oy * w + ox] : 0.0f;
  }
}

__global__ void pixels_kernel(const uint8_t* __restrict__ rgb, float* __restrict__ y, size_t plane) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t p = size_t(blockIdx.x) * blockDim.x + threadIdx.x; p < plane; p += stride)
    for (int c = 0; c < 3; ++c) y[size_t(c) * plane + p] = float(double(rgb[p * 3 + size_t(c)]) / 127.5 - 1.0);
}

__global__ void rgb8_kernel(const float* __restrict__ x, uint8_t* __restrict__ rgb, size_t plane) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t p = size_t(blockIdx.x) * blockDim.x + threadIdx.x; p < plane; p += stride)
    for (int c = 0; c < 3; ++c) {
      // Written as the CPU's image_from_float: no FMA contraction is possible
      // in (x + 1) * 127.5, and NaN fails both comparisons -> 0.
      float v = (x[size_t(c) * plane + p] + 1.0f) * 127.5f;
      v = v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f;
      rgb[p * 3 + size_t(c)] = uint8_t(v);
    }
}

}  // namespace

void add_bias_residual(float* y, const float* bias, const float* residual, int channels, size_t plane,
                       cudaStream_t stream) {
  const dim3 grid(blocks_for(plane), unsigned(channels));
  if (residual) bias_residual_kernel<true><<<grid, kThreads, 0, stream>>>(y, bias, residual, plane);
  else bias_residual_kernel<false><<<grid, kThreads, 0, stream>>>(y, bias, nullptr, plane);
  EMU35_CUDA_CHECK(cudaGetLastError());
}

void transpose_batched(const float* in, float* out, int batch, size_t rows, size_t cols, cudaStream_t stream) {
  if (batch <= 0 || rows == 0 || cols == 0) return;
  const size_t tx = (cols + 31) / 32, ty = (rows + 31) / 32;
  if (tx * ty > 0x7fffffffu || batch > 65535)
    throw Error("transpose_batched: " + std::to_string(rows) + " x " + std::to_string(cols) + " is too large");
  transpose_kernel<<<dim3(unsigned(tx * ty), unsigned(batch)), dim3(32, 8), 0, stream>>>(in, out, rows, cols,
                                                                                          unsigned(tx));
  EMU35_CUDA_CHECK(cudaGetLastError());
}

void upsample_nearest2x(const float* x, float* y, int channels, int h, int w, cudaStream_t stream) {
  check_plane(size_t(h) * size_t(w), "upsample_nearest2x");
  const dim3 grid(blocks_for(size_t(h) * size_t(w)), unsigned(channels));
  upsample_kernel<<<grid, kThreads, 0, stream>>>(x, y, unsigned(h), unsigned(w));
  EMU35_CUDA_CHECK(cudaGetLastError());
}

void pad_right_bottom(const float* x, float* y, int channels, int h, int w, cudaStream_t stream) {
  check_plane((size_t(h) + 1) * (size_t(w) + 1), "pad_right_bottom");
  const dim3 grid(blocks_for((size_t(h) + 1) * (size_t(w) + 1)), unsigned(channels));
  pad_kernel<<<grid, kThreads, 0, stream>>>(x, y, unsigned(h), unsigned(w));
  EMU35_CUDA_CHECK(cudaGetLastError());
}

void pixels_from_rgb8(const uint8_t* rgb, float* y, size_t plane, cudaStream_t stream) {
  pixels_kernel<<<blocks_for(plane), kThreads, 0, stream>>>(rgb, y, plane);
  EMU35_CUDA_CHECK(cudaGetLastError());
}

void rgb8_from_pixels(const float* x, uint8_t* rgb, size_t plane, cudaStream_t stream) {
  rgb8_kernel<<<blocks_for(plane), kThreads, 0, stream>>>(x, rgb, plane);
  EMU35_CUDA_CHECK(cudaGetLastError());
}

}  // namespace emu35::cuda::ibq
