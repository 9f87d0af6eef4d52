// The small-batch GEMM of the decode step: y[m, n] = sum_k x[m, k] W[n, k] for
// M <= 16 rows, bf16 x and W, float32 y. At this size the product is pure
// weight streaming, so the kernel is built to read every weight byte exactly
// once at full memory bandwidth (lm_gemv.cu):
//  - a block owns 16 weight rows and a K range; its 4 warps split the range
//    and each lane streams 16-byte pieces of two weight rows (evict-first);
//  - the multiply-adds run on tensor cores (mma m16n8k16) with a permuted K
//    order, which lets each lane feed its 16-byte loads straight into the
//    fragments (the sum over K does not care about the order);
//  - when the weight has too few rows to fill the GPU, K is split across
//    blocks; the last block of a row tile adds the partials in split order.
// Every output element is summed in an order that depends on (N, K) only, not
// on M: a row's result does not depend on the other rows of the batch.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace emu35::cuda::lmk {

constexpr int kGemvMaxRows = 16;

bool gemv_supported(int M, int64_t K);  // M <= 16 and K a multiple of 8 (16-byte rows)

// K splits for an N x K weight on a GPU with num_sms SMs (1 = no split).
int gemv_splits(int64_t N, int64_t K, int num_sms);
// Workspace floats and counter ints gemv_bf16 needs for that split.
size_t gemv_workspace_floats(int64_t N, int splits);
size_t gemv_counters(int64_t N);

// x: [M, K] bf16 (row stride K, 16-byte aligned), w: [N, K] bf16, y: row m at
// y + m * ldy. `counters` must be zero before the first call (each call leaves
// them zero again).
void gemv_bf16(const void* x, int M, const void* w, int64_t N, int64_t K, float* y, int64_t ldy, int splits,
               float* workspace, unsigned* counters, cudaStream_t stream);

}  // namespace emu35::cuda::lmk
