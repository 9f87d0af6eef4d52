// How the IBQ codec's convolutions and attention GEMMs may compute.
#pragma once

namespace emu35::cuda {

enum class VqMath {
  // Float32 FMA, GEMM-like convolution algorithms only: latents within ~1e-6
  // of the CPU's, so codes match it.
  kExact,
  // Float32 FMA, any convolution algorithm cuDNN finds fastest (Winograd
  // included): a few more ulp of error, no TF32.
  kFastFp32,
  // TF32 tensor cores for convolutions and attention GEMMs (~1e-3 relative).
  kTf32,
};

inline const char* vq_math_name(VqMath m) {
  return m == VqMath::kExact ? "fp32" : m == VqMath::kFastFp32 ? "fp32-fast" : "tf32";
}

}  // namespace emu35::cuda
