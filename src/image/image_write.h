// Encoding RGB8 pictures to PNG (lossless), JPEG and WebP (lossy), and
// writing them to disk atomically (temp file + rename).
#pragma once
#include <filesystem>
#include <string>

#include "image/image.h"
#include "image/image_format.h"

namespace emu35 {

inline constexpr int kDefaultImageQuality = 95;

// All throw emu35::Error for an empty or inconsistent Image, a quality
// outside 1..100, or an encoder failure.
std::string encode_png(const Image& img);  // 8-bit RGB, zlib's default level (as PIL's 6)
// Baseline JPEG, libjpeg defaults (4:2:0 chroma, ISLOW DCT) as PIL saves it.
std::string encode_jpeg(const Image& img, int quality = kDefaultImageQuality);
// Lossy WebP (libwebp's simple encoder); throws when built without libwebp
// or when a side exceeds WebP's 16383-pixel limit.
std::string encode_webp(const Image& img, int quality = kDefaultImageQuality);

std::string encode_image(const Image& img, ImageFormat fmt, int quality = kDefaultImageQuality);

// Encodes and writes through emu35::write_file_atomic; quality is ignored for PNG.
void write_image(const std::filesystem::path& path, const Image& img, ImageFormat fmt,
                 int quality = kDefaultImageQuality);

}  // namespace emu35
