#include "app/edit/image_refs.h"

#include "common/error.h"

namespace emu35::app::edit {

namespace {
std::string trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string_view::npos ? std::string() : std::string(s.substr(a, b - a + 1));
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}
}  // namespace

bool is_remote_ref(std::string_view ref) { return starts_with_ci(ref, "http://") || starts_with_ci(ref, "https://"); }

std::vector<std::string> parse_image_cell(std::string_view cell) {
  const std::string s = trim(cell);
  std::vector<std::string> out;
  if (s.empty()) return out;
  if (s.front() == '[') {
    nlohmann::json j = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
    if (j.is_array()) {
      for (auto& v : j) {
        if (!v.is_string()) throw Error("input_images: the JSON list must hold paths (strings), found " + std::string(v.type_name()));
        std::string p = trim(v.get<std::string>());
        if (!p.empty()) out.push_back(p);
      }
      return out;
    }
    // Not valid JSON: diffgentor falls through to the comma rule.
  }
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string p = trim(std::string_view(s).substr(start, comma - start));
    if (!p.empty()) out.push_back(p);
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> image_refs_from_json(const nlohmann::json& v) {
  if (v.is_null()) return {};
  if (v.is_string()) return parse_image_cell(v.get<std::string>());
  if (!v.is_array()) throw Error("input_images: expected a list of paths or a string, found " + std::string(v.type_name()));
  std::vector<std::string> out;
  for (auto& e : v) {
    if (!e.is_string()) throw Error("input_images: the list must hold paths (strings), found " + std::string(e.type_name()));
    std::string p = trim(e.get<std::string>());
    if (!p.empty()) out.push_back(p);
  }
  return out;
}

std::string resolve_image_ref(const std::string& ref, const std::filesystem::path& base_dir) {
  if (is_remote_ref(ref)) return ref;
  std::filesystem::path p(ref);
  if (p.is_relative()) p = base_dir / p;
  return p.string();
}

}  // namespace emu35::app::edit
