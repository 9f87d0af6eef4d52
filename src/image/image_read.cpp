#include "image/image_read.h"

#include <cstring>

#include "common/error.h"
#include "common/file_util.h"
#include "image/codecs.h"
#include "image/image_format.h"

namespace emu35 {
namespace codec {

void check_pixel_limit(uint64_t width, uint64_t height, uint64_t max_pixels,
                       const std::string& name) {
  // width, height < 2^32 each (every header field is 32 bits), so no overflow.
  const uint64_t n = width * height;
  if (n > max_pixels)
    throw Error("image '" + name + "': " + std::to_string(width) + "x" + std::to_string(height) +
                " = " + std::to_string(n) + " pixels exceeds the limit of " +
                std::to_string(max_pixels) + " pixels; refused before decoding");
}

}  // namespace codec

namespace {

// Names a few formats people commonly try, so the error says what it saw.
std::string describe_unknown(std::span<const uint8_t> b) {
  auto starts = [&](const char* magic, size_t n) {
    return b.size() >= n && std::memcmp(b.data(), magic, n) == 0;
  };
  if (starts("GIF8", 4)) return "GIF (not supported)";
  if (starts("BM", 2)) return "BMP (not supported)";
  if (starts("II*\0", 4) || starts("MM\0*", 4)) return "TIFF (not supported)";
  return "not PNG, JPEG or WebP";
}

}  // namespace

Image decode_image(std::span<const uint8_t> bytes, const std::string& name,
                   const ImageReadOptions& opts) {
  if (bytes.empty()) throw Error("image '" + name + "': empty file");
  auto fmt = sniff_image_format(bytes);
  if (!fmt)
    throw Error("image '" + name + "': unrecognised image format (" + describe_unknown(bytes) +
                ")");
  switch (*fmt) {
    case ImageFormat::PNG: return codec::decode_png(bytes, name, opts.max_pixels);
    case ImageFormat::JPEG: return codec::decode_jpeg(bytes, name, opts.max_pixels);
    case ImageFormat::WEBP: return codec::decode_webp(bytes, name, opts.max_pixels);
  }
  throw Error("image '" + name + "': unhandled format");
}

Image read_image(const std::filesystem::path& path, const ImageReadOptions& opts) {
  const std::string bytes = read_whole_file(path);
  return decode_image(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
      path.string(), opts);
}

}  // namespace emu35
