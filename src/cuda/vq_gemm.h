// Float32 GEMMs through cuBLASLt for the IBQ attention and codebook search,
// with the algorithm chosen once per shape and cached.
#pragma once
#include <memory>

namespace emu35::cuda::ibq {

class GpuContext;

class Gemm {
 public:
  Gemm();
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // Column-major (BLAS convention) C[m x n] = alpha * op(A) op(B) + beta * C,
  // op(A) m x k, op(B) k x n, on ctx's stream. tf32: TF32 tensor-core math
  // (CUBLAS_COMPUTE_32F_FAST_TF32) instead of exact float32.
  void run(GpuContext& ctx, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc, bool tf32);

  void clear() noexcept;  // drops the cached plans

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emu35::cuda::ibq
