// One cuBLASLt matmul plan (descriptors + the heuristic's algorithm), shared
// by the transformer's GemmEngine and the IBQ's Gemm, which cache them per
// shape. Column-major, as cuBLASLt sees every operand.
#pragma once
#include <cublasLt.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace emu35::cuda::lt {

// The alignment cuBLASLt may assume for a pointer: the largest power of two
// dividing the address, at most 256 (its default assumption).
uint32_t alignment_of(const void* p);

struct PlanRequest {
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cudaDataType_t ab_type = CUDA_R_32F;  // A and B; C / D are float32
  cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
  uint64_t a_rows = 0, a_cols = 0, b_rows = 0, b_cols = 0, c_rows = 0, c_cols = 0;  // as stored
  int64_t lda = 0, ldb = 0, ldc = 0;
  uint32_t align_a = 256, align_b = 256, align_c = 256;
  size_t max_workspace = 0;
  bool reproducible = false;  // exclude reductions that add partial results with atomics
};

struct Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;  // c is also D
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
  void destroy() noexcept;
};

// Throws Error (naming `what`) when cuBLASLt has no algorithm for it.
Plan make_plan(cublasLtHandle_t handle, const PlanRequest& r, const std::string& what);

}  // namespace emu35::cuda::lt
