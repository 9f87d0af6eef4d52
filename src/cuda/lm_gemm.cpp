#include "cuda/lm_gemm.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <tuple>

#include "cuda/cublaslt_plan.h"
#include "cuda/cuda_check.h"
#include "cuda/lm_device_memory.h"
#include "cuda/lm_gemv.h"

namespace emu35::cuda {

namespace {

struct PlanKey {
  int m;
  int64_t n, k, ldy;
  int type;
  uint32_t ax, aw, ay;
  bool operator<(const PlanKey& o) const {
    return std::tie(m, n, k, ldy, type, ax, aw, ay) < std::tie(o.m, o.n, o.k, o.ldy, o.type, o.ax, o.aw, o.ay);
  }
};

}  // namespace

struct GemmEngine::Impl {
  cublasLtHandle_t handle = nullptr;
  DeviceBuffer lt_workspace;
  std::map<PlanKey, lt::Plan> plans;

  ~Impl() {
    for (auto& [k, p] : plans) p.destroy();
    if (handle) cublasLtDestroy(handle);
  }

  const lt::Plan& plan(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy) {
    const PlanKey key{M,
                      w.n,
                      w.k,
                      ldy,
                      static_cast<int>(w.type),
                      lt::alignment_of(x),
                      lt::alignment_of(w.data),
                      lt::alignment_of(y)};
    auto it = plans.find(key);
    if (it != plans.end()) return it->second;
    // Column-major view: y^T [N x M] = W (stored K x N, transposed) * x^T (stored K x M).
    lt::PlanRequest r;
    r.ab_type = w.type == ActType::BF16 ? CUDA_R_16BF : CUDA_R_32F;
    r.trans_a = CUBLAS_OP_T;
    r.a_rows = uint64_t(w.k), r.a_cols = uint64_t(w.n), r.lda = w.k;
    r.b_rows = uint64_t(w.k), r.b_cols = uint64_t(M), r.ldb = w.k;
    r.c_rows = uint64_t(w.n), r.c_cols = uint64_t(M), r.ldc = ldy;
    r.align_a = key.aw, r.align_b = key.ax, r.align_c = key.ay;
    r.max_workspace = lt_workspace.bytes();
    r.reproducible = true;
    const std::string what =
        "a " + std::to_string(M) + "x" + std::to_string(w.n) + "x" + std::to_string(w.k) + " product";
    return plans.emplace(key, lt::make_plan(handle, r, what)).first->second;
  }
};

GemmEngine::GemmEngine(size_t cublaslt_workspace) : impl_(std::make_unique<Impl>()) {
  EMU35_CUBLAS_CHECK(cublasLtCreate(&impl_->handle));
  impl_->lt_workspace = DeviceBuffer(cublaslt_workspace, "cuBLASLt workspace");
  if (const char* e = std::getenv("EMU35_GEMV")) {
    if (std::strcmp(e, "cublaslt") == 0) small_ = SmallBatchPath::CublasLt;
    else if (std::strcmp(e, "streaming") == 0) small_ = SmallBatchPath::Streaming;
  }
}

GemmEngine::~GemmEngine() = default;

void GemmEngine::matmul(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy, cudaStream_t stream) {
  if (M <= 0) return;
  if (streams(M, w))
    matmul_streaming(x, M, w, y, ldy, stream);
  else
    matmul_cublaslt(x, M, w, y, ldy, stream);
}

void GemmEngine::matmul_streaming(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy,
                                  cudaStream_t stream) {
  if (M <= 0) return;
  gemv(x, M, w, lmk::GemvEpilogue::Store, y, ldy, nullptr, false, stream);
}

void GemmEngine::gemv(const void* x, int M, const DevMatrix& w, lmk::GemvEpilogue e, float* y, int64_t ldy, void* act,
                      bool pdl, cudaStream_t stream) {
  if (w.type != ActType::BF16) throw Error("GemmEngine: the streaming kernel takes bf16 weights only");
  lmk::GemvArgs a;
  a.x = x;
  a.M = M;
  a.w = w.data;
  a.N = w.n;
  a.K = w.k;
  a.epilogue = e;
  a.y = y;
  a.ldy = ldy;
  a.act = act;
  a.pdl = pdl;
  lmk::gemv_bf16(a, stream);
}

void GemmEngine::matmul_cublaslt(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy, cudaStream_t stream) {
  if (M <= 0) return;
  const lt::Plan& p = impl_->plan(x, M, w, y, ldy);
  const float alpha = 1.0f, beta = 0.0f;
  EMU35_CUBLAS_CHECK(cublasLtMatmul(impl_->handle, p.op, &alpha, w.data, p.a, x, p.b, &beta, y, p.c, y, p.c, &p.algo,
                                    impl_->lt_workspace.get(), impl_->lt_workspace.bytes(), stream));
}

}  // namespace emu35::cuda
