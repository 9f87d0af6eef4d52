// The transformer's matrix products, y = x W^T (x [M, K] row-major in W's
// type, W [N, K] row-major, y float32 with row stride ldy):
//  - bf16 with M <= 2 (a decode step of one CFG pair), and up to M = 8 for
//    the tall weights: the weight-streaming kernel of lm_gemv.h, which can
//    also fuse the residual add or SwiGLU into its epilogue (the runner calls
//    gemv() for that);
//  - everything else (prefill, larger batches, the fp32 runner): cuBLASLt,
//    float32 accumulate (CUBLAS_COMPUTE_32F, no TF32), plan chosen once per
//    shape and cached. Reductions that add partial results with atomics are
//    excluded so that the same inputs always give the same bits.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>

#include "cuda/lm_gemv.h"
#include "cuda/lm_kernels.h"

namespace emu35::cuda {

struct DevMatrix {
  const void* data = nullptr;
  ActType type = ActType::BF16;
  int64_t n = 0, k = 0;  // rows (outputs), cols (inputs)
};

enum class SmallBatchPath { Streaming, CublasLt };

class GemmEngine {
 public:
  explicit GemmEngine(size_t cublaslt_workspace = size_t(32) << 20);  // on the current device
  ~GemmEngine();
  GemmEngine(const GemmEngine&) = delete;
  GemmEngine& operator=(const GemmEngine&) = delete;

  void matmul(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy, cudaStream_t stream);

  // Whether matmul() streams this product with lm_gemv's kernel (and so
  // whether gemv() with a fused epilogue may replace it): bf16 with M <= 2,
  // or up to M = 8 for tall weights (N >= 8 K: gate_up, lm_head). Measured on
  // the H100 (BENCHMARKS.md): at M = 4..8 the kernel re-reads x through L1 for
  // every row pair and loses to cuBLASLt on qkv, o_proj and down_proj.
  bool streams(int M, const DevMatrix& w) const {
    return w.type == ActType::BF16 && small_ == SmallBatchPath::Streaming && lmk::gemv_supported(M, w.k) &&
           (M <= 2 || w.n >= 8 * w.k);
  }
  // The streaming kernel with an epilogue: y (Store, Accumulate) or act (SwiGLU).
  void gemv(const void* x, int M, const DevMatrix& w, lmk::GemvEpilogue e, float* y, int64_t ldy, void* act, bool pdl,
            cudaStream_t stream);

  // Default: the streaming kernel. EMU35_GEMV=cublaslt sends small products to
  // cuBLASLt too (for comparisons; `emu35 bench --only gemm` measures both).
  void set_small_batch_path(SmallBatchPath p) { small_ = p; }
  SmallBatchPath small_batch_path() const { return small_; }

  // Each path on its own (tests, benchmarks).
  void matmul_cublaslt(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy, cudaStream_t stream);
  void matmul_streaming(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy, cudaStream_t stream);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  SmallBatchPath small_ = SmallBatchPath::Streaming;
};

}  // namespace emu35::cuda
