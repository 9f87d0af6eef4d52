// The container formats the engine reads and writes, their names and file
// extensions, and recognising a format from a file's first bytes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>

namespace emu35 {

enum class ImageFormat { PNG, JPEG, WEBP };

// "png", "jpeg" / "jpg", "webp" (any case, an optional leading dot allowed);
// anything else throws emu35::Error listing the accepted names.
ImageFormat parse_image_format(std::string_view name);

// Lower-case name ("png", "jpeg", "webp") and usual extension (".png", ".jpg", ".webp").
std::string_view image_format_name(ImageFormat fmt);
std::string_view image_format_extension(ImageFormat fmt);

// The format a path's extension asks for (.png, .jpg/.jpeg, .webp); throws
// emu35::Error naming the path when the extension is missing or unknown.
ImageFormat image_format_from_path(const std::filesystem::path& p);

// The format the bytes are in, from their magic numbers (never the file name);
// nullopt when they match none of the three.
std::optional<ImageFormat> sniff_image_format(std::span<const uint8_t> bytes);

}  // namespace emu35
