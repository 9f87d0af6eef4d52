// Stored element types of checkpoint tensors and their conversions to float32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace emu35 {

enum class DType { BF16, F16, F32, F8_E4M3, I64, I32, U8 };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // the safetensors spelling ("BF16", ...)
bool parse_dtype(std::string_view name, DType* out);

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, as torch's .to(torch.bfloat16); NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float f8e4m3_to_f32(uint8_t v);  // OCP E4M3FN: no infinities, 0x7f/0xff are NaN

// Converts n stored elements starting at src into float32 (any float dtype).
void convert_to_f32(DType t, const void* src, float* dst, size_t n);

}  // namespace emu35
