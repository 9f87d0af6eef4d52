#include "cuda/vq_gemm.h"

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "common/error.h"
#include "cuda/cublaslt_plan.h"
#include "cuda/cuda_check.h"
#include "cuda/vq_context.h"

namespace emu35::cuda::ibq {

namespace {

using Key = std::tuple<bool, bool, bool, int, int, int, int, int, int, uint32_t, uint32_t, uint32_t>;

}  // namespace

struct Gemm::Impl {
  std::map<Key, lt::Plan> plans;
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
  const uint32_t al_a = lt::alignment_of(a), al_b = lt::alignment_of(b), al_c = lt::alignment_of(c);
  const Key key{trans_a, trans_b, tf32, m, n, k, lda, ldb, ldc, al_a, al_b, al_c};
  auto it = impl_->plans.find(key);
  if (it == impl_->plans.end()) {
    // Stored shapes (column-major): A is m x k or, transposed, k x m; likewise B.
    lt::PlanRequest r;
    r.compute = tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    r.trans_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    r.trans_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    r.a_rows = uint64_t(trans_a ? k : m), r.a_cols = uint64_t(trans_a ? m : k), r.lda = lda;
    r.b_rows = uint64_t(trans_b ? n : k), r.b_cols = uint64_t(trans_b ? k : n), r.ldb = ldb;
    r.c_rows = uint64_t(m), r.c_cols = uint64_t(n), r.ldc = ldc;
    r.align_a = al_a, r.align_b = al_b, r.align_c = al_c;
    r.max_workspace = GpuContext::kGemmWorkspaceBytes;
    const std::string what =
        "a float32 GEMM of " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
    it = impl_->plans.emplace(key, lt::make_plan(ctx.lt(), r, what)).first;
  }
  const lt::Plan& p = it->second;
  EMU35_CUBLAS_CHECK(cublasLtMatmul(ctx.lt(), p.op, &alpha, a, p.a, b, p.b, &beta, c, p.c, c, p.c, &p.algo,
                                    ctx.gemm_workspace(), p.workspace, ctx.stream()));
}

}  // namespace emu35::cuda::ibq
