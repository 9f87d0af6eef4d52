// http(s) input pictures, fetched only when the user passes
// --allow_remote_images: the curl program downloads (30 s limit, as
// diffgentor); with --image_cache_dir the file is kept as md5(url) + the URL's
// extension (".jpg" when it has none), diffgentor's cache naming, and reused.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

#include "image/image.h"

namespace emu35::app::edit {

std::string md5_hex(std::string_view data);

// The cache file name diffgentor uses for a URL.
std::string cache_file_name(const std::string& url);

// Reads the picture behind a URL (from the cache when present). Errors name the URL.
Image fetch_remote_image(const std::string& url, const std::filesystem::path& cache_dir);

}  // namespace emu35::app::edit
