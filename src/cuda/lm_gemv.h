// The small-batch GEMM of the decode step, y[m, n] = sum_k x[m, k] W[n, k]
// for M <= 8 rows of bf16 x and bf16 W, with the step's neighbouring
// elementwise work fused into its epilogue (lm_gemv.cu). At this size the
// product is pure weight streaming, so everything serves reading each weight
// byte once at full bandwidth:
//  - a warp owns two weight rows over all of K; each lane streams 16-byte
//    pieces of both (no L1 allocation, the next group of pieces in flight while
//    the current one is multiplied) against x read through L1;
//  - multiply-adds in float32 on the CUDA cores (a few per weight byte at
//    M <= 8), a lane's partial sums in K order, then a fixed butterfly:
//    every output is summed in an order that depends on K only, so a row's
//    result does not depend on the other rows of the batch;
//  - with programmatic dependent launch the first group of weight pieces is
//    loaded before waiting for the previous kernel. (Prefetching further
//    groups into L2 there measured slower on the H100.)
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace emu35::cuda::lmk {

constexpr int kGemvMaxRows = 8;

bool gemv_supported(int M, int64_t K);  // 1 <= M <= 8 and K a multiple of 8 (16-byte rows)

enum class GemvEpilogue {
  Store,       // y[m * ldy + n] = sum
  Accumulate,  // y[m * ldy + n] += sum (the residual stream)
  SwiGLU,      // W = [gate (N/2 rows); up (N/2 rows)]:
               // act[m * N/2 + j] = bf16(silu(gate_j) * up_j), as lmk::swiglu
};

struct GemvArgs {
  const void* x = nullptr;  // [M, K] bf16, row stride K, 16-byte aligned
  int M = 0;
  const void* w = nullptr;  // [N, K] bf16 row-major, 16-byte aligned
  int64_t N = 0, K = 0;
  GemvEpilogue epilogue = GemvEpilogue::Store;
  float* y = nullptr;  // Store, Accumulate
  int64_t ldy = 0;
  void* act = nullptr;  // SwiGLU: [M, N/2] bf16
  bool pdl = false;     // launch with programmatic dependent launch (lm_launch.h)
};

void gemv_bf16(const GemvArgs& a, cudaStream_t stream);

// Reads `bytes` (a multiple of 16, 16-byte aligned) the way gemv_bf16 reads
// weights and writes one word per block to `sink` (grid_for_read words): the
// read-only bandwidth the streaming kernel can hope for (benchmarks).
unsigned grid_for_read(size_t bytes);
void stream_read(const void* p, size_t bytes, unsigned* sink, cudaStream_t stream);

}  // namespace emu35::cuda::lmk
