// Writes one finished generation into a folder: pictures, text segments and
// result.json (ids, segments, parameters, seed, timings). Every file is written
// atomically; result.json last, so its presence means the folder is complete.
#pragma once
#include <emu35/emu35.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "image/image_format.h"

namespace emu35::app {

struct OutputFiles {
  ImageFormat format = ImageFormat::PNG;
  int quality = 95;
};

// The result.json content (without writing anything); `files` names the
// picture files per image segment (may be empty for in-memory uses).
nlohmann::json output_to_json(const Output& o, const std::vector<std::string>& image_files);

// Writes everything into dir (created); returns result.json's content. `extra`
// is merged into result.json at top level (model paths, load time, ...).
nlohmann::json write_output_dir(const std::filesystem::path& dir, const Output& o, const OutputFiles& files,
                                const nlohmann::json& extra = nlohmann::json::object());

}  // namespace emu35::app
