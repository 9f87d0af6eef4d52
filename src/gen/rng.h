// Counter-based random numbers (Philox4x32-10): the draw for (seed, stream, step)
// does not depend on how many draws came before, so CPU and GPU backends, batched
// and unbatched runs, and skipped (forced) steps all see the same numbers.
#pragma once
#include <array>
#include <cstdint>

namespace emu35 {

inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(M0) * ctr[0];
    uint64_t p1 = static_cast<uint64_t>(M1) * ctr[2];
    ctr = {static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<uint32_t>(p1),
           static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<uint32_t>(p0)};
    key[0] += W0;
    key[1] += W1;
  }
  return ctr;
}

// Uniform in [0, 1) with 24 random bits (exactly representable as float).
inline float uniform01(uint64_t seed, uint32_t stream, uint64_t step) {
  auto r = philox4x32({static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32), stream, 0x454d5533u /*"EMU3"*/},
                      {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  return static_cast<float>(r[0] >> 8) * (1.0f / 16777216.0f);
}

}  // namespace emu35
