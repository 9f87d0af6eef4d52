// Reading pictures (PNG, JPEG, WebP) into RGB8 the way upstream gets them:
// PIL's Image.open(...).convert("RGB"). Format comes from the magic bytes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "image/image.h"

namespace emu35 {

// 64 * 2^20 = 67,108,864 pixels: "64 megapixels" in the binary sense, chosen so
// an 8192 x 8192 square (the largest power-of-two square) still loads, while
// decoded RGB stays under 200 MB. PIL's own bomb guard (89.5 MP warns) is looser.
inline constexpr uint64_t kDefaultMaxImagePixels = uint64_t(64) << 20;

struct ImageReadOptions {
  // Pictures with more pixels are refused from their header, before any
  // pixel data is decoded or allocated.
  uint64_t max_pixels = kDefaultMaxImagePixels;
};

// PIL convert("RGB") semantics (each codec file says how in detail):
//  - alpha is dropped, never blended (RGBA, LA, palette + tRNS);
//  - grey is replicated to R = G = B; palettes are looked up;
//  - 16-bit RGB(A) / grey+alpha keep the most significant byte; 16-bit grey
//    is clipped to 0..255 (PIL's "I;16" -> "RGB"), not scaled;
//  - JPEG: libjpeg defaults (ISLOW DCT, fancy upsampling); CMYK/YCCK are
//    inverted (PIL assumes Adobe) and converted as PIL's cmyk2rgb; EXIF
//    orientation is ignored;
//  - WebP: the still image decoded as straight (non-premultiplied) RGBA.
// Every failure (unreadable file, unknown format, corrupt or truncated data,
// over the pixel limit) throws emu35::Error naming the file.
Image read_image(const std::filesystem::path& path, const ImageReadOptions& opts = {});

// Same, from bytes in memory (uploads, data URIs); `name_for_errors` is what
// error messages call the source.
Image decode_image(std::span<const uint8_t> bytes, const std::string& name_for_errors,
                   const ImageReadOptions& opts = {});

}  // namespace emu35
