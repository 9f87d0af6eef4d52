#include "app/request_json.h"

#include <set>

#include "common/error.h"
#include "image/image_read.h"

using nlohmann::json;

namespace emu35::app {

namespace {
template <typename T>
std::optional<T> opt_field(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const json& v = j[key];
  bool ok;
  if constexpr (std::is_same_v<T, bool>) ok = v.is_boolean();
  else if constexpr (std::is_integral_v<T>) ok = v.is_number_integer();
  else if constexpr (std::is_floating_point_v<T>) ok = v.is_number();
  else ok = v.is_string();
  if (!ok) throw Error(where + ": field \"" + key + "\" has the wrong type (" + v.type_name() + ")");
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (std::is_unsigned_v<T> ? !v.is_number_unsigned() : false)
      throw Error(where + ": field \"" + key + "\" must not be negative");
  }
  return v.get<T>();
}
}  // namespace

Request request_from_json(const json& j, const std::filesystem::path& base_dir, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected a JSON object");
  static const std::set<std::string> known = {
      "task",       "prompt",     "raw_prompt",       "images",      "seed",       "guidance_scale",
      "image_cfg_scale", "max_new_tokens", "aspect_ratio", "target_size", "image_area", "text_top_k",
      "text_top_p", "text_temperature", "image_top_k", "image_top_p", "image_temperature", "start_image",
      "output"};
  for (auto& [k, v] : j.items())
    if (!known.count(k)) throw Error(where + ": unknown field \"" + k + "\"");
  Request r;
  if (auto t = opt_field<std::string>(j, "task", where)) r.task = parse_task(*t);
  auto prompt = opt_field<std::string>(j, "prompt", where);
  if (!prompt) throw Error(where + ": field \"prompt\" is required");
  r.prompt = *prompt;
  r.raw_prompt = opt_field<bool>(j, "raw_prompt", where).value_or(false);
  if (j.contains("images") && !j["images"].is_null()) {
    const json& imgs = j["images"];
    if (!imgs.is_array()) throw Error(where + ": field \"images\" must be a list of paths");
    for (auto& p : imgs) {
      if (!p.is_string()) throw Error(where + ": field \"images\" must be a list of paths");
      std::filesystem::path path = p.get<std::string>();
      if (path.is_relative()) path = base_dir / path;
      r.images.push_back({path.string(), read_image(path)});
    }
  }
  r.seed = opt_field<uint64_t>(j, "seed", where);
  r.guidance_scale = opt_field<float>(j, "guidance_scale", where);
  r.image_cfg_scale = opt_field<float>(j, "image_cfg_scale", where);
  r.max_new_tokens = opt_field<int>(j, "max_new_tokens", where);
  r.aspect_ratio = opt_field<std::string>(j, "aspect_ratio", where).value_or("");
  if (auto ts = opt_field<std::string>(j, "target_size", where)) r.target_size = parse_token_size(*ts);
  r.image_area = opt_field<int64_t>(j, "image_area", where);
  r.text_top_k = opt_field<int>(j, "text_top_k", where);
  r.text_top_p = opt_field<float>(j, "text_top_p", where);
  r.text_temperature = opt_field<float>(j, "text_temperature", where);
  r.image_top_k = opt_field<int>(j, "image_top_k", where);
  r.image_top_p = opt_field<float>(j, "image_top_p", where);
  r.image_temperature = opt_field<float>(j, "image_temperature", where);
  r.start_image = opt_field<bool>(j, "start_image", where).value_or(false);
  return r;
}

// Floats printed as the user typed them (0.9, not 0.8999999761581421).
static double tidy(float x) { return std::stod(std::to_string(x)); }

json params_to_json(const ResolvedParams& p) {
  auto sp = [](const SamplingParams& s) {
    return json{{"top_k", s.top_k}, {"top_p", tidy(s.top_p)}, {"temperature", tidy(s.temperature)}};
  };
  json j = {{"task", std::string(task_name(p.task))},
            {"guidance_scale", tidy(p.guidance_scale)},
            {"image_cfg_scale", p.image_cfg_scale ? json(tidy(*p.image_cfg_scale)) : json(nullptr)},
            {"max_new_tokens", p.max_new_tokens},
            {"aspect_ratio", p.aspect_ratio},
            {"target_size", p.target_size ? json{p.target_size->h, p.target_size->w} : json(nullptr)},
            {"image_area", p.image_area},
            {"text_sampling", sp(p.text)},
            {"image_sampling", sp(p.image)},
            {"start_image", p.start_image},
            {"raw_prompt", p.raw_prompt},
            {"force_same_image_size", p.force_same_image_size},
            {"seed", p.seed}};
  return j;
}

}  // namespace emu35::app
