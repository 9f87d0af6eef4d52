// Row softmax for the IBQ attention scores: one block per row.
#include <string>

#include "common/error.h"
#include "cuda/cuda_check.h"
#include "cuda/vq_kernels.h"
#include "cuda/vq_reduce.cuh"

namespace emu35::cuda::ibq {

namespace {

constexpr int kThreads = 512;

__global__ void softmax_rows_kernel(float* s, int n) {
  __shared__ float sh[33];
  float* row = s + size_t(blockIdx.x) * size_t(n);
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < n; j += blockDim.x) mx = fmaxf(mx, row[j]);
  mx = block_max(mx, sh);
  float sum = 0.0f;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    const float e = expf(row[j] - mx);
    row[j] = e;
    sum += e;
  }
  sum = block_sum(sum, sh);
  const float inv = float(1.0 / double(sum));  // as the CPU: one reciprocal, then products
  for (int j = threadIdx.x; j < n; j += blockDim.x) row[j] *= inv;
}

}  // namespace

void softmax_rows(float* s, int rows, int n, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) throw Error("softmax_rows: empty matrix " + std::to_string(rows) + "x" + std::to_string(n));
  softmax_rows_kernel<<<rows, kThreads, 0, stream>>>(s, n);
  EMU35_CUDA_CHECK(cudaGetLastError());
}

}  // namespace emu35::cuda::ibq
