#include "cuda/vq_gemm.h"

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "common/error.h"
#include "cuda/cuda_check.h"
#include "cuda/vq_context.h"

namespace emu35::cuda::ibq {

namespace {

// The alignment cuBLASLt may assume for a pointer: the largest power of two
// dividing the address, at most 256 (its default assumption).
uint32_t alignment_of(const void* p) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 4 && v % a) a >>= 1;
  return a;
}

struct Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;

  void destroy() noexcept {
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (op) cublasLtMatmulDescDestroy(op);
    a = b = c = nullptr;
    op = nullptr;
  }
};

using Key = std::tuple<bool, bool, bool, int, int, int, int, int, int, uint32_t, uint32_t, uint32_t>;

}  // namespace

struct Gemm::Impl {
  std::map<Key, Plan> plans;
};

Gemm::Gemm() : impl_(std::make_unique<Impl>()) {}
Gemm::~Gemm() { clear(); }

void Gemm::clear() noexcept {
  for (auto& [key, plan] : impl_->plans) plan.destroy();
  impl_->plans.clear();
}

void Gemm::run(GpuContext& ctx, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc, bool tf32) {
  if (m <= 0 || n <= 0 || k <= 0)
    throw Error("GEMM: empty shape " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k));
  const uint32_t al_a = alignment_of(a), al_b = alignment_of(b), al_c = alignment_of(c);
  const Key key{trans_a, trans_b, tf32, m, n, k, lda, ldb, ldc, al_a, al_b, al_c};
  auto it = impl_->plans.find(key);
  if (it == impl_->plans.end()) {
    Plan p;
    cublasLtMatmulPreference_t pref = nullptr;
    try {
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulDescCreate(&p.op, tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F));
      const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
      const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
      EMU35_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof op_a));
      EMU35_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b));
      // Stored shapes (column-major): A is m x k or, transposed, k x m; likewise B.
      EMU35_CUBLAS_CHECK(
          cublasLtMatrixLayoutCreate(&p.a, CUDA_R_32F, trans_a ? k : m, trans_a ? m : k, int64_t(lda)));
      EMU35_CUBLAS_CHECK(
          cublasLtMatrixLayoutCreate(&p.b, CUDA_R_32F, trans_b ? n : k, trans_b ? k : n, int64_t(ldb)));
      EMU35_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.c, CUDA_R_32F, m, n, int64_t(ldc)));
      EMU35_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
      const uint64_t ws = GpuContext::kGemmWorkspaceBytes;
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a));
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b));
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c));
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c));
      cublasLtMatmulHeuristicResult_t result{};
      int found = 0;
      EMU35_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(ctx.lt(), p.op, p.a, p.b, p.c, p.c, pref, 1, &result, &found));
      if (found < 1 || result.state != CUBLAS_STATUS_SUCCESS)
        throw Error("cuBLASLt has no float32 GEMM algorithm for " + std::to_string(m) + "x" + std::to_string(n) +
                    "x" + std::to_string(k));
      p.algo = result.algo;
      p.workspace = result.workspaceSize;
      cublasLtMatmulPreferenceDestroy(pref);
    } catch (...) {
      if (pref) cublasLtMatmulPreferenceDestroy(pref);
      p.destroy();
      throw;
    }
    it = impl_->plans.emplace(key, p).first;
  }
  const Plan& p = it->second;
  EMU35_CUBLAS_CHECK(cublasLtMatmul(ctx.lt(), p.op, &alpha, a, p.a, b, p.b, &beta, c, p.c, c, p.c, &p.algo,
                                    ctx.gemm_workspace(), p.workspace, ctx.stream()));
}

}  // namespace emu35::cuda::ibq
