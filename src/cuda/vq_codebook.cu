// Codebook kernels: the running first-maximum argmax over score tiles, and
// the lookup of codebook rows for decoding.
#include <algorithm>
#include <climits>
#include <string>

#include "common/error.h"
#include "cuda/cuda_check.h"
#include "cuda/vq_kernels.h"

namespace emu35::cuda::ibq {

namespace {

constexpr int kThreads = 256;

// (v, i) beats (bv, bi): larger value, or equal value at a lower index.
__device__ __forceinline__ bool better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }

// One block per position.
__global__ void argmax_kernel(const float* __restrict__ scores, int count, int ld, int code0, bool first,
                              float* __restrict__ best_val, int32_t* __restrict__ best_idx) {
  __shared__ float sv[32];
  __shared__ int si[32];
  const float* row = scores + size_t(blockIdx.x) * size_t(ld);
  float bv = -INFINITY;
  int bi = INT_MAX;
  // Each thread scans increasing indices with a strict '>': its first maximum.
  for (int j = threadIdx.x; j < count; j += blockDim.x) {
    const float v = row[j];
    if (v > bv) {
      bv = v;
      bi = j;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_down_sync(0xffffffffu, bv, o);
    const int oi = __shfl_down_sync(0xffffffffu, bi, o);
    if (better(ov, oi, bv, bi)) {
      bv = ov;
      bi = oi;
    }
  }
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  if (lane == 0) {
    sv[wid] = bv;
    si[wid] = bi;
  }
  __syncthreads();
  if (wid == 0) {
    const int nw = blockDim.x >> 5;
    bv = lane < nw ? sv[lane] : -INFINITY;
    bi = lane < nw ? si[lane] : INT_MAX;
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_down_sync(0xffffffffu, bv, o);
      const int oi = __shfl_down_sync(0xffffffffu, bi, o);
      if (better(ov, oi, bv, bi)) {
        bv = ov;
        bi = oi;
      }
    }
    if (lane == 0) {
      if (bi == INT_MAX) bi = 0;  // nothing above -inf (or NaN only): the first code, as a scan would
      const size_t p = blockIdx.x;
      if (first || bv > best_val[p]) {
        best_val[p] = bv;
        best_idx[p] = code0 + bi;
      }
    }
  }
}

__global__ void lookup_kernel(const float* __restrict__ codebook, int dim, const int32_t* __restrict__ codes, int n,
                              float* __restrict__ out) {
  const size_t total = size_t(dim) * size_t(n);
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const unsigned d = unsigned(i / unsigned(n)), p = unsigned(i % unsigned(n));
    out[i] = codebook[size_t(codes[p]) * size_t(dim) + d];
  }
}

}  // namespace

void argmax_update(const float* scores, int positions, int count, int ld, int code0, bool first, float* best_val,
                   int32_t* best_idx, cudaStream_t stream) {
  if (positions <= 0 || count <= 0 || ld < count)
    throw Error("argmax_update: bad score tile " + std::to_string(positions) + "x" + std::to_string(count));
  argmax_kernel<<<positions, kThreads, 0, stream>>>(scores, count, ld, code0, first, best_val, best_idx);
  EMU35_CUDA_CHECK(cudaGetLastError());
}

void codebook_lookup(const float* codebook, int dim, const int32_t* codes, int n, float* out, cudaStream_t stream) {
  if (dim <= 0 || n <= 0) throw Error("codebook_lookup: empty shape");
  const size_t total = size_t(dim) * size_t(n);
  const unsigned blocks = unsigned(std::min<size_t>((total + kThreads - 1) / kThreads, 4096));
  lookup_kernel<<<blocks, kThreads, 0, stream>>>(codebook, dim, codes, n, out);
  EMU35_CUDA_CHECK(cudaGetLastError());
}

}  // namespace emu35::cuda::ibq
