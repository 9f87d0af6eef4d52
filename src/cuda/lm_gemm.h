// The transformer's matrix products, y = x W^T (x [M, K] row-major in W's
// type, W [N, K] row-major, y float32 with row stride ldy):
//  - bf16 with M <= 16 (decode): the weight-streaming kernel of lm_gemv.h by
//    default (deterministic and independent of M), or cuBLASLt;
//  - everything else (prefill, the fp32 runner): cuBLASLt, float32 accumulate
//    (CUBLAS_COMPUTE_32F, no TF32), plan chosen once per shape and cached.
// cuBLASLt reductions that add partial results with atomics are excluded so
// that the same inputs always give the same bits.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>

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

  // Sizes the streaming kernel's split-K workspace for every weight it will
  // see, so no allocation happens later (CUDA graphs keep the pointers).
  void reserve_for(const DevMatrix& w);

  void matmul(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy, cudaStream_t stream);

  // Path for bf16 products with M <= 16. Default cuBLASLt: on the H100 it
  // streams decode weights at 2.4-2.8 TB/s against 1.6-2.0 for our kernel
  // (BENCHMARKS.md); EMU35_GEMV=streaming selects ours, for measurements.
  void set_small_batch_path(SmallBatchPath p) { small_ = p; }
  SmallBatchPath small_batch_path() const { return small_; }

  // Each path on its own (tests, benchmarks).
  void matmul_cublaslt(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy, cudaStream_t stream);
  void matmul_streaming(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy, cudaStream_t stream);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  SmallBatchPath small_ = SmallBatchPath::CublasLt;
};

}  // namespace emu35::cuda
