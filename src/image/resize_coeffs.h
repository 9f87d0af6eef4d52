// Internal to resize.cpp: Pillow's per-output-pixel bicubic filter taps
// (Resample.c precompute_coeffs + normalize_coeffs_8bpc), in fixed point.
#pragma once
#include <cstdint>
#include <vector>

namespace emu35::resample {

// PIL's PRECISION_BITS = 32 - 8 - 2: 8 bits of result, 2 of headroom for the
// kernel's negative lobes and sums above 1.
inline constexpr int kPrecisionBits = 32 - 8 - 2;

struct Taps {
  int ksize = 0;               // stride of `k`: PIL's ceil(support) * 2 + 1
  std::vector<int> first;      // per output index: first source index used
  std::vector<int> count;      // per output index: number of source indices used
  std::vector<int32_t> k;      // out_size * ksize weights, scaled by 2^kPrecisionBits
};

// Taps mapping in_size source samples onto out_size outputs over the box
// [0, in_size) (PIL's default box). Throws emu35::Error on absurd sizes.
Taps bicubic_taps(int in_size, int out_size);

}  // namespace emu35::resample
