#include "image/image_write.h"

#include "common/error.h"
#include "common/file_util.h"

namespace emu35 {

std::string encode_image(const Image& img, ImageFormat fmt, int quality) {
  switch (fmt) {
    case ImageFormat::PNG: return encode_png(img);
    case ImageFormat::JPEG: return encode_jpeg(img, quality);
    case ImageFormat::WEBP: return encode_webp(img, quality);
  }
  throw Error("encode_image: unhandled format");
}

void write_image(const std::filesystem::path& path, const Image& img, ImageFormat fmt,
                 int quality) {
  std::string bytes;
  try {
    bytes = encode_image(img, fmt, quality);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  write_file_atomic(path, bytes);
}

}  // namespace emu35
