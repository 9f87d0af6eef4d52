// The input_images cell of a row, diffgentor's rules: a JSON list of strings,
// else a comma-separated list, else one path; blank or [] = no images.
// Relative paths are resolved against the input file's folder; http(s) URLs
// are kept as they are (fetched later, only when the user allows it).
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace emu35::app::edit {

bool is_remote_ref(std::string_view ref);  // http:// or https:// (any case)

// Throws Error for a JSON list holding something other than strings.
std::vector<std::string> parse_image_cell(std::string_view cell);

// JSONL rows: a list of strings or one string (parsed as a CSV cell); null = none.
std::vector<std::string> image_refs_from_json(const nlohmann::json& v);

// URLs unchanged; relative paths joined to base_dir.
std::string resolve_image_ref(const std::string& ref, const std::filesystem::path& base_dir);

}  // namespace emu35::app::edit
