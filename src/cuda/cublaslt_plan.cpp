#include "cuda/cublaslt_plan.h"

#include "common/error.h"
#include "cuda/cuda_check.h"

namespace emu35::cuda::lt {

uint32_t alignment_of(const void* p) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 1 && v % a) a >>= 1;
  return a;
}

void Plan::destroy() noexcept {
  if (a) cublasLtMatrixLayoutDestroy(a);
  if (b) cublasLtMatrixLayoutDestroy(b);
  if (c) cublasLtMatrixLayoutDestroy(c);
  if (op) cublasLtMatmulDescDestroy(op);
  a = b = c = nullptr;
  op = nullptr;
}

namespace {
template <class T>
void set_pref(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr, T value) {
  EMU35_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &value, sizeof value));
}
}  // namespace

Plan make_plan(cublasLtHandle_t handle, const PlanRequest& r, const std::string& what) {
  Plan p;
  cublasLtMatmulPreference_t pref = nullptr;
  try {
    EMU35_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.op, r.compute, CUDA_R_32F));
    EMU35_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &r.trans_a, sizeof r.trans_a));
    EMU35_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &r.trans_b, sizeof r.trans_b));
    EMU35_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.a, r.ab_type, r.a_rows, r.a_cols, r.lda));
    EMU35_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.b, r.ab_type, r.b_rows, r.b_cols, r.ldb));
    EMU35_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.c, CUDA_R_32F, r.c_rows, r.c_cols, r.ldc));
    EMU35_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    set_pref(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, uint64_t(r.max_workspace));
    if (r.reproducible)
      set_pref(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK,
               uint32_t(CUBLASLT_REDUCTION_SCHEME_MASK & ~uint32_t(CUBLASLT_REDUCTION_SCHEME_INPLACE)));
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, r.align_a);
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, r.align_b);
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, r.align_c);
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, r.align_c);
    cublasLtMatmulHeuristicResult_t res{};
    int found = 0;
    EMU35_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle, p.op, p.a, p.b, p.c, p.c, pref, 1, &res, &found));
    if (found < 1 || res.state != CUBLAS_STATUS_SUCCESS) throw Error("cuBLASLt has no algorithm for " + what);
    p.algo = res.algo;
    p.workspace = res.workspaceSize;
    cublasLtMatmulPreferenceDestroy(pref);
  } catch (...) {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    p.destroy();
    throw;
  }
  return p;
}

}  // namespace emu35::cuda::lt
