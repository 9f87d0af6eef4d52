// Internal: the per-format decoders behind decode_image(), and the shared
// pixel-limit check. Not for use outside src/image/.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "image/image.h"

namespace emu35::codec {

// Throws the "over the pixel limit" Error; called as soon as a header gives the size.
void check_pixel_limit(uint64_t width, uint64_t height, uint64_t max_pixels,
                       const std::string& name);

Image decode_png(std::span<const uint8_t> bytes, const std::string& name, uint64_t max_pixels);
Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& name, uint64_t max_pixels);
Image decode_webp(std::span<const uint8_t> bytes, const std::string& name, uint64_t max_pixels);

}  // namespace emu35::codec
