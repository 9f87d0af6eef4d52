#include "app/edit/output_names.h"

#include <cstdio>
#include <filesystem>

#include "common/error.h"

namespace emu35::app::edit {

namespace {
std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}
}  // namespace

std::string index_output_name(int64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06lld.png", static_cast<long long>(index));
  return buf;
}

std::string custom_output_name(const std::string& value) {
  size_t a = value.find_first_not_of(" \t\r\n"), b = value.find_last_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  const std::string v = value.substr(a, b - a + 1);
  namespace fs = std::filesystem;
  fs::path p(v);
  if (p.is_absolute() || v.front() == '/' || v.front() == '~')
    throw Error("output name \"" + v + "\": must be a path relative to --output_dir");
  for (const auto& part : p)
    if (part == "..") throw Error("output name \"" + v + "\": \"..\" would leave --output_dir");
  p = p.lexically_normal();
  if (p.empty() || p == "." || !p.has_filename() || p.filename() == ".")
    throw Error("output name \"" + v + "\": names a folder, not a file");
  const std::string ext = lower(p.extension().string());
  std::string out;
  if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") out = fs::path(p).replace_extension().string() + ext;
  else out = p.string() + ".png";
  return out;
}

ImageFormat output_format_for(const std::string& name) {
  const std::string ext = lower(std::filesystem::path(name).extension().string());
  return ext == ".jpg" || ext == ".jpeg" ? ImageFormat::JPEG : ImageFormat::PNG;
}

}  // namespace emu35::app::edit
