#include "cuda/vq_conv.h"

#include <map>
#include <string>
#include <tuple>

#include "common/error.h"
#include "cuda/cuda_check.h"
#include "cuda/vq_context.h"
#include "cuda/vq_kernels.h"

namespace emu35::cuda::ibq {

namespace {

// Workspace an algorithm may ask for: the im2col GEMM algorithm needs
// cin*k*k*HW floats (9 GB at the 1024x1024 level), which is never worth it.
constexpr size_t kMaxWorkspace = size_t(1) << 30;

struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t workspace = 0;
  bool nhwc = false;  // tensors (and filter) channels-last

  void destroy() noexcept {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    x = y = nullptr;
    w = nullptr;
    conv = nullptr;
  }
};

using Key = std::tuple<int, int, int, int, int, int, int, VqMath>;

bool exact_algorithm(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM;
}

bool acceptable(const cudnnConvolutionFwdAlgoPerf_t& r, VqMath math, bool need_deterministic) {
  if (r.status != CUDNN_STATUS_SUCCESS || r.memory > kMaxWorkspace) return false;
  if (r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;  // may drop to fp16
  if (need_deterministic && r.determinism != CUDNN_DETERMINISTIC) return false;
  switch (math) {
    case VqMath::kTf32: return true;
    case VqMath::kFastFp32: return r.mathType != CUDNN_TENSOR_OP_MATH;
    case VqMath::kExact: break;
  }
  return exact_algorithm(r.algo) && r.mathType != CUDNN_TENSOR_OP_MATH;
}

// The first acceptable result (they come fastest first), preferring
// deterministic algorithms; -1 when none.
int choose(const cudnnConvolutionFwdAlgoPerf_t* perf, int n, VqMath math) {
  for (bool det : {true, false})
    for (int i = 0; i < n; ++i)
      if (acceptable(perf[i], math, det)) return i;
  return -1;
}

std::string shape_text(const ConvShape& s) {
  return std::to_string(s.cin) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w) + " -> " +
         std::to_string(s.cout) + " (k " + std::to_string(s.k) + ", pad " + std::to_string(s.pad) + ", stride " +
         std::to_string(s.stride) + ")";
}

Plan make_plan(GpuContext& ctx, const ConvShape& s, VqMath math) {
  const bool tf32 = math == VqMath::kTf32;
  Plan p;
  // cuDNN's TF32 tensor-core kernels want channels-last data: given NCHW they
  // ran barely faster than FMA math (BENCHMARKS.md), so TF32 convolutions
  // transpose in and out around an NHWC convolution.
  p.nhwc = tf32;
  const cudnnTensorFormat_t fmt = p.nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  try {
    EMU35_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x));
    EMU35_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y));
    EMU35_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w));
    EMU35_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p.conv));
    EMU35_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.x, fmt, CUDNN_DATA_FLOAT, 1, s.cin, s.h, s.w));
    EMU35_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w, CUDNN_DATA_FLOAT, fmt, s.cout, s.cin, s.k, s.k));
    // PyTorch's Conv2d is a cross-correlation.
    EMU35_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv, s.pad, s.pad, s.stride, s.stride, 1, 1,
                                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    EMU35_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
    int n = 0, c = 0, h = 0, w = 0;
    EMU35_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p.conv, p.x, p.w, &n, &c, &h, &w));
    if (n != 1 || c != s.cout || h != s.out_h() || w != s.out_w())
      throw Error("cuDNN computes a different output shape for convolution " + shape_text(s));
    EMU35_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.y, fmt, CUDNN_DATA_FLOAT, 1, c, h, w));

    constexpr int kMax = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    cudnnConvolutionFwdAlgoPerf_t perf[kMax];
    int returned = 0, chosen = -1;
    // Measured choice, fastest first (it runs on scratch buffers of its own);
    // then the heuristic order if nothing measured fits; then implicit GEMM,
    // which cuDNN supports for every shape.
    ctx.synchronize();
    if (cudnnFindConvolutionForwardAlgorithm(ctx.cudnn(), p.x, p.w, p.conv, p.y, kMax, &returned, perf) ==
        CUDNN_STATUS_SUCCESS)
      chosen = choose(perf, returned, math);
    cudaGetLastError();  // a failed trial allocation must not linger as the last error
    if (chosen < 0 &&
        cudnnGetConvolutionForwardAlgorithm_v7(ctx.cudnn(), p.x, p.w, p.conv, p.y, kMax, &returned, perf) ==
            CUDNN_STATUS_SUCCESS)
      chosen = choose(perf, returned, math);
    if (chosen >= 0) {
      p.algo = perf[chosen].algo;
      // The float32 modes keep FMA math whatever the result reports; TF32
      // mode runs the algorithm in the math type it was measured with.
      if (tf32) EMU35_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, perf[chosen].mathType));
    } else {
      p.algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    }
    EMU35_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn(), p.x, p.w, p.conv, p.y, p.algo, &p.workspace));
  } catch (...) {
    p.destroy();
    throw;
  }
  return p;
}

}  // namespace

struct ConvEngine::Impl {
  std::map<Key, Plan> plans;

  const Plan& plan(GpuContext& ctx, const ConvShape& s, VqMath math) {
    const Key key{s.cin, s.h, s.w, s.cout, s.k, s.pad, s.stride, math};
    auto it = plans.find(key);
    if (it == plans.end()) it = plans.emplace(key, make_plan(ctx, s, math)).first;
    return it->second;
  }
};

ConvEngine::ConvEngine() : impl_(std::make_unique<Impl>()) {}
ConvEngine::~ConvEngine() { clear(); }

void ConvEngine::clear() noexcept {
  for (auto& [key, plan] : impl_->plans) plan.destroy();
  impl_->plans.clear();
}

int ConvEngine::algorithm(GpuContext& ctx, const ConvShape& s, VqMath math) { return int(impl_->plan(ctx, s, math).algo); }

void ConvEngine::forward(GpuContext& ctx, const ConvShape& s, const float* x, const float* weight, float* y,
                         VqMath math) {
  if (s.cin <= 0 || s.cout <= 0 || s.k <= 0 || s.stride <= 0 || s.out_h() <= 0 || s.out_w() <= 0)
    throw Error("convolution " + shape_text(s) + " has an empty output");
  const Plan& p = impl_->plan(ctx, s, math);
  void* ws = p.workspace ? ctx.alloc(p.workspace) : nullptr;
  const float one = 1.0f, zero = 0.0f;
  cudnnStatus_t st;
  if (!p.nhwc) {
    st = cudnnConvolutionForward(ctx.cudnn(), &one, p.x, x, p.w, weight, p.conv, p.algo, ws, p.workspace, &zero, p.y,
                                 y);
  } else {
    const size_t in_plane = size_t(s.h) * s.w, out_plane = size_t(s.out_h()) * s.out_w(), kk = size_t(s.k) * s.k;
    float* xt = static_cast<float*>(ctx.alloc(in_plane * s.cin * sizeof(float)));
    float* wt = static_cast<float*>(ctx.alloc(size_t(s.cout) * s.cin * kk * sizeof(float)));
    float* yt = static_cast<float*>(ctx.alloc(out_plane * s.cout * sizeof(float)));
    transpose_batched(x, xt, 1, size_t(s.cin), in_plane, ctx.stream());   // [cin, hw] -> [hw, cin]
    transpose_batched(weight, wt, s.cout, size_t(s.cin), kk, ctx.stream());  // [cout][cin, kk] -> [cout][kk, cin]
    st = cudnnConvolutionForward(ctx.cudnn(), &one, p.x, xt, p.w, wt, p.conv, p.algo, ws, p.workspace, &zero, p.y,
                                 yt);
    if (st == CUDNN_STATUS_SUCCESS) transpose_batched(yt, y, 1, out_plane, size_t(s.cout), ctx.stream());
    ctx.free(xt);
    ctx.free(wt);
    ctx.free(yt);
  }
  ctx.free(ws);  // stream-ordered: released after the convolution has run
  if (st != CUDNN_STATUS_SUCCESS)
    throw Error(std::string("CUDA: cudnnConvolutionForward failed for ") + shape_text(s) + ": " +
                cudnnGetErrorString(st));
}

}  // namespace emu35::cuda::ibq
