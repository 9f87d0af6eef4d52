// Requests as JSON objects (generate --requests FILE.jsonl, the HTTP APIs):
// field names match the command-line options with underscores.
#pragma once
#include <emu35/emu35.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace emu35::app {

// Fields: task, prompt, raw_prompt, images (list of paths, relative to base_dir),
// seed, guidance_scale, image_cfg_scale, max_new_tokens, aspect_ratio,
// target_size ("HxW"), image_area, text_top_k, text_top_p, text_temperature,
// image_top_k, image_top_p, image_temperature, start_image, and `output`
// (a sub-folder name; read by the caller). Unknown fields and wrong types are
// errors naming the field; images are read (and checked) here.
Request request_from_json(const nlohmann::json& j, const std::filesystem::path& base_dir, const std::string& where);

nlohmann::json params_to_json(const ResolvedParams& p);

}  // namespace emu35::app
