// 2-D convolutions of one NCHW float32 picture through cuDNN's convolution
// API. The algorithm is measured once per shape and math mode
// (cudnnFindConvolutionForwardAlgorithm) and cached.
//
// VqMath::kExact sets CUDNN_FMA_MATH, which keeps cuDNN off TF32 tensor
// cores (CUDNN_DEFAULT_MATH would allow them on Ampere and later), and accepts
// only the GEMM-like algorithms: FFT and Winograd trade accuracy for speed.
// kFastFp32 keeps FMA math but takes any algorithm; kTf32 allows tensor cores
// (never CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which may drop to fp16) and
// runs channels-last: input and filter are transposed to NHWC, the output
// back to NCHW (cuDNN's tensor-core kernels are slow on NCHW data).
#pragma once
#include <memory>

#include "cuda/vq_math_mode.h"

namespace emu35::cuda::ibq {

class GpuContext;

struct ConvShape {
  int cin = 0, h = 0, w = 0;  // input
  int cout = 0, k = 1;        // weight [cout, cin, k, k]
  int pad = 0, stride = 1;    // symmetric zero padding
  int out_h() const { return (h + 2 * pad - k) / stride + 1; }
  int out_w() const { return (w + 2 * pad - k) / stride + 1; }
};

class ConvEngine {
 public:
  ConvEngine();
  ~ConvEngine();
  ConvEngine(const ConvEngine&) = delete;
  ConvEngine& operator=(const ConvEngine&) = delete;

  // y[cout, out_h, out_w] = cross-correlation of x with the weight (no bias),
  // queued on ctx's stream. Throws Error for an empty output.
  void forward(GpuContext& ctx, const ConvShape& s, const float* x, const float* weight, float* y, VqMath math);

  // The algorithm chosen for a shape (cudnnConvolutionFwdAlgo_t), planning it if needed.
  int algorithm(GpuContext& ctx, const ConvShape& s, VqMath math);

  void clear() noexcept;  // drops the cached plans

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emu35::cuda::ibq
