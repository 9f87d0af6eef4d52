#include "cuda/lm_gemm.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>

#include "cuda/cuda_check.h"
#include "cuda/lm_device_memory.h"
#include "cuda/lm_gemv.h"

namespace emu35::cuda {

namespace {

// Largest power of two (<= 256) dividing the address: cuBLASLt's heuristics
// assume 256-byte aligned operands unless told otherwise.
uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && (a % al) != 0) al >>= 1;
  return al;
}

struct PlanKey {
  int m;
  int64_t n, k, ldy;
  int type;
  uint32_t ax, aw, ay;
  bool operator<(const PlanKey& o) const {
    return std::tie(m, n, k, ldy, type, ax, aw, ay) < std::tie(o.m, o.n, o.k, o.ldy, o.type, o.ax, o.aw, o.ay);
  }
};

struct Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
  void destroy() {
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (op) cublasLtMatmulDescDestroy(op);
    la = lb = lc = nullptr;
    op = nullptr;
  }
};

}  // namespace

struct GemmEngine::Impl {
  cublasLtHandle_t lt = nullptr;
  DeviceBuffer lt_workspace;
  std::map<PlanKey, Plan> plans;

  ~Impl() {
    for (auto& [k, p] : plans) p.destroy();
    if (lt) cublasLtDestroy(lt);
  }

  const Plan& plan(const void* x, int M, const DevMatrix& w, float* y, int64_t ldy) {
    const PlanKey key{
        M, w.n, w.k, ldy, static_cast<int>(w.type), alignment_of(x), alignment_of(w.data), alignment_of(y)};
    auto it = plans.find(key);
    if (it != plans.end()) return it->second;
    Plan p;
    try {
      const cudaDataType_t dt = w.type == ActType::BF16 ? CUDA_R_16BF : CUDA_R_32F;
      EMU35_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
      const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
      EMU35_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
      EMU35_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
      // Column-major view: y^T [N x M] = W (stored K x N, transposed) * x^T (stored K x M).
      EMU35_CUBLAS_CHECK(
          cublasLtMatrixLayoutCreate(&p.la, dt, static_cast<uint64_t>(w.k), static_cast<uint64_t>(w.n), w.k));
      EMU35_CUBLAS_CHECK(
          cublasLtMatrixLayoutCreate(&p.lb, dt, static_cast<uint64_t>(w.k), static_cast<uint64_t>(M), w.k));
      EMU35_CUBLAS_CHECK(
          cublasLtMatrixLayoutCreate(&p.lc, CUDA_R_32F, static_cast<uint64_t>(w.n), static_cast<uint64_t>(M), ldy));
      cublasLtMatmulPreference_t pref = nullptr;
      EMU35_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
      struct PrefGuard {
        cublasLtMatmulPreference_t p;
        ~PrefGuard() { cublasLtMatmulPreferenceDestroy(p); }
      } guard{pref};
      const size_t wsb = lt_workspace.bytes();
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb));
      const uint32_t schemes = CUBLASLT_REDUCTION_SCHEME_MASK & ~uint32_t(CUBLASLT_REDUCTION_SCHEME_INPLACE);
      EMU35_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK,
                                                              &schemes, sizeof schemes));
      const uint32_t aa = key.aw, ab = key.ax, ac = key.ay;
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aa, sizeof aa));
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ab, sizeof ab));
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ac, sizeof ac));
      EMU35_CUBLAS_CHECK(
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ac, sizeof ac));
      cublasLtMatmulHeuristicResult_t res{};
      int found = 0;
      EMU35_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(lt, p.op, p.la, p.lb, p.lc, p.lc, pref, 1, &res, &found));
      if (found < 1)
        throw Error("cuBLASLt has no algorithm for a " + std::to_string(M) + "x" + std::to_string(w.n) + "x" +
                    std::to_string(w.k) + " product");
      p.algo = res.algo;
      p.workspace = res.workspaceSize;
    } catch (...) {
      p.destroy();
      throw;
    }
    return plans.emplace(key, p).first->second;
  }
};

GemmEngine::GemmEngine(size_t cublaslt_workspace) : impl_(std::make_unique<Impl>()) {
  EMU35_CUBLAS_CHECK(cublasLtCreate(&impl_->lt));
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
  const Plan& p = impl_->plan(x, M, w, y, ldy);
  const float alpha = 1.0f, beta = 0.0f;
  EMU35_CUBLAS_CHECK(cublasLtMatmul(impl_->lt, p.op, &alpha, w.data, p.la, x, p.lb, &beta, y, p.lc, y, p.lc, &p.algo,
                                    impl_->lt_workspace.get(), impl_->lt_workspace.bytes(), stream));
}

}  // namespace emu35::cuda
