#include "image/image_format.h"

#include <cctype>
#include <cstring>
#include <string>

#include "common/error.h"

namespace emu35 {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<ImageFormat> format_from_name(std::string_view name) {
  std::string n = lower(name);
  if (!n.empty() && n[0] == '.') n.erase(0, 1);
  if (n == "png") return ImageFormat::PNG;
  if (n == "jpeg" || n == "jpg") return ImageFormat::JPEG;
  if (n == "webp") return ImageFormat::WEBP;
  return std::nullopt;
}

}  // namespace

ImageFormat parse_image_format(std::string_view name) {
  if (auto f = format_from_name(name)) return *f;
  throw Error("unknown image format '" + std::string(name) +
              "' (expected one of: png, jpeg, jpg, webp)");
}

std::string_view image_format_name(ImageFormat fmt) {
  switch (fmt) {
    case ImageFormat::PNG: return "png";
    case ImageFormat::JPEG: return "jpeg";
    case ImageFormat::WEBP: return "webp";
  }
  return "?";
}

std::string_view image_format_extension(ImageFormat fmt) {
  switch (fmt) {
    case ImageFormat::PNG: return ".png";
    case ImageFormat::JPEG: return ".jpg";
    case ImageFormat::WEBP: return ".webp";
  }
  return "";
}

ImageFormat image_format_from_path(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  if (auto f = format_from_name(ext); f && !ext.empty()) return *f;
  throw Error("cannot tell the image format of '" + p.string() + "' from its extension '" + ext +
              "' (expected .png, .jpg, .jpeg or .webp)");
}

std::optional<ImageFormat> sniff_image_format(std::span<const uint8_t> b) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() >= 8 && std::memcmp(b.data(), png_sig, 8) == 0) return ImageFormat::PNG;
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return ImageFormat::JPEG;
  if (b.size() >= 12 && std::memcmp(b.data(), "RIFF", 4) == 0 &&
      std::memcmp(b.data() + 8, "WEBP", 4) == 0)
    return ImageFormat::WEBP;
  return std::nullopt;
}

}  // namespace emu35
