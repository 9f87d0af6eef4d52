// The in-memory picture every image path works on: 8-bit RGB, interleaved,
// row-major, no padding — what PIL's convert("RGB") hands upstream.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace emu35 {

// An aggregate, so Image{w, h, std::move(bytes)} works; Image::blank(w, h)
// gives a zero-filled picture of that size.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3 bytes: R, G, B per pixel

  static Image blank(int w, int h) {
    return Image{w, h, std::vector<uint8_t>(size_t(w) * size_t(h) * 3)};
  }

  size_t pixel_count() const { return size_t(width) * size_t(height); }
  bool empty() const { return width <= 0 || height <= 0; }
  uint8_t* row(int y) { return rgb.data() + size_t(y) * size_t(width) * 3; }
  const uint8_t* row(int y) const { return rgb.data() + size_t(y) * size_t(width) * 3; }
};

// Throws emu35::Error (naming `what`) unless the sides are positive and the
// buffer holds exactly width * height * 3 bytes.
void check_image(const Image& img, const char* what);

}  // namespace emu35
