// Test-only codec helpers that talk to libpng / libjpeg directly (not through
// src/image), to make test inputs and to decode files independently.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace emu35::test {

inline std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A PNG as stored: samples exactly as in the file, no libpng transforms
// (sub-byte depths stay packed, 16-bit stays big-endian).
struct RawPng {
  int width = 0, height = 0, bit_depth = 0, color_type = 0, channels = 0;
  std::vector<uint8_t> data;  // rows of rowbytes, concatenated
  size_t rowbytes = 0;
};
RawPng decode_png_raw(const std::string& file_bytes);  // throws std::runtime_error

// What to write: IHDR fields, optional palette (RGB triples) and tRNS bytes
// (palette alpha, or a grey / RGB 16-bit key in PNG byte order).
struct PngSpec {
  int width = 0, height = 0, bit_depth = 8, color_type = 0;
  bool interlaced = false;
  std::vector<uint8_t> palette_rgb;
  std::vector<uint8_t> trns_alpha;  // palette images: alpha per entry
  std::vector<uint8_t> rows;        // packed rows as PNG stores them, height * rowbytes
};
std::string encode_png_raw(const PngSpec& spec);

// JPEG with `components` = 1 (grey), 3 (RGB in, YCbCr stored) or 4 (CMYK,
// stored with libjpeg's Adobe marker).
std::string encode_jpeg_raw(int width, int height, int components,
                            const std::vector<uint8_t>& samples, int quality);
// Decoded samples in the file's natural colour space (grey, RGB, CMYK as stored).
std::vector<uint8_t> decode_jpeg_raw(const std::string& file_bytes, int* width, int* height,
                                     int* components);

}  // namespace emu35::test
