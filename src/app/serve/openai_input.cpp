#include "app/serve/openai_input.h"

#include <cmath>
#include <set>

#include "app/serve/input_error.h"
#include "app/serve/json_fields.h"

using nlohmann::json;

namespace emu35::app::serve {

namespace {
constexpr int kStatus = 400;

std::set<std::string> common_fields() {
  std::set<std::string> s = {"prompt",  "model", "n",     "size",       "quality",   "response_format",
                             "output_format", "output_compression", "background", "moderation", "style",
                             "user",    "stream", "partial_images", "aspect_ratio"};
  for (auto& g : generation_field_names()) s.insert(g);
  return s;
}

// "WxH" in pixels -> a token grid (16 px a token, rounded).
TokenSize parse_size(const JsonFields& f, const std::string& s) {
  const size_t x = s.find('x');
  auto num = [&](std::string_view t) {
    if (t.empty() || t.size() > 5 || t.find_first_not_of("0123456789") != std::string_view::npos)
      f.fail("size", "expected \"auto\" or WIDTHxHEIGHT in pixels, e.g. 1024x1024, got \"" + s.substr(0, 40) + "\"");
    return std::stoi(std::string(t));
  };
  if (x == std::string::npos) num("");
  const int w = num(std::string_view(s).substr(0, x)), h = num(std::string_view(s).substr(x + 1));
  if (w < 16 || h < 16 || w > 4096 || h > 4096) f.fail("size", "each side must be 16..4096 pixels, got " + s);
  return TokenSize{std::max(1, static_cast<int>(std::lround(h / 16.0))), std::max(1, static_cast<int>(std::lround(w / 16.0)))};
}

OpenAiRequest parse_common(const json& body, Task task, std::vector<ReferenceImage> images, const InputLimits& lim,
                           const std::set<std::string>& known) {
  if (!body.is_object()) throw InputError(kStatus, "", "the request body must be a JSON object");
  JsonFields f(body, kStatus);
  f.only(known, " (not a parameter of this endpoint)");
  OpenAiRequest out;
  Request r;
  r.task = task;
  auto prompt = f.str("prompt");
  if (!prompt) f.fail("prompt", "is required");
  r.prompt = *prompt;
  f.str("model");  // any model name is accepted: this server has one
  f.str("quality");
  f.str("user");
  f.str("style");
  f.str("background");
  f.str("moderation");
  if (f.boolean("stream").value_or(false)) f.fail("stream", "streaming is not supported here; follow /predictions/{id}/events instead");
  const int n = static_cast<int>(f.integer("n", 1, kMaxImagesPerCall).value_or(1));
  if (auto rf = f.str("response_format"); rf && *rf != "b64_json")
    f.fail("response_format", "only b64_json is supported (this server does not host files)");
  const std::string fmt = f.choice("output_format", {"png", "jpeg", "jpg", "webp"}).value_or("png");
  out.output_format = fmt == "jpg" ? "jpeg" : fmt;
  const int quality = static_cast<int>(f.integer("output_compression", 0, 100).value_or(95));
  read_generation_fields(f, r, lim);
  if (auto a = f.str("aspect_ratio")) {
    bool ok = *a == "auto";
    for (auto& k : aspect_ratio_keys()) ok = ok || k == *a;
    if (!ok) f.fail("aspect_ratio", "must be auto or one of the width:height presets (1:1, 4:3, 16:9, ...)");
    r.aspect_ratio = *a;
  }
  if (auto s = f.str("size"); s && *s != "auto" && !r.target_size) r.target_size = parse_size(f, *s);
  // A size larger than the task's default budget gets the budget it needs.
  if (r.target_size && !r.max_new_tokens)
    r.max_new_tokens = std::max(task_defaults(task).max_new_tokens, image_token_count(*r.target_size) + 64);
  r.images = std::move(images);

  for (int i = 0; i < n; ++i) {
    JobInput in;
    in.request = r;
    if (r.seed) in.request.seed = *r.seed + static_cast<uint64_t>(i);
    in.format = parse_image_format(out.output_format);
    in.quality = std::max(1, quality);
    in.echo = body;
    if (in.echo.contains("images")) in.echo["images"] = std::to_string(in.request.images.size()) + " picture(s)";
    finalize_input(in, lim, kStatus, "image");
    out.jobs.push_back(std::move(in));
  }
  return out;
}
}  // namespace

OpenAiRequest parse_openai_generation(const json& body, const InputLimits& lim) {
  return parse_common(body, Task::T2I, {}, lim, common_fields());
}

OpenAiRequest parse_openai_edit(const json& body, std::vector<ReferenceImage> uploads, const InputLimits& lim) {
  std::set<std::string> known = common_fields();
  known.insert({"images", "image", "mask", "input_fidelity"});
  if (!body.is_object()) throw InputError(kStatus, "", "the request body must be a JSON object");
  JsonFields f(body, kStatus);
  f.only(known, " (not a parameter of this endpoint)");
  f.str("input_fidelity");
  // JSON pictures: images: [{image_url: ...} | {file_id: ...} | "..."], or image: "...".
  std::vector<std::pair<std::string, std::string>> refs;  // (field, value)
  if (f.has("images")) {
    const json& v = f.raw("images");
    if (!v.is_array()) f.fail("images", "must be a list of {\"image_url\": ...} objects");
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string field = "images[" + std::to_string(i) + "]";
      if (v[i].is_string()) {
        refs.emplace_back(field, v[i].get<std::string>());
      } else if (v[i].is_object() && v[i].contains("file_id")) {
        throw InputError(kStatus, field + ".file_id", "file ids are not supported: send image_url with a data URL");
      } else if (v[i].is_object() && v[i].contains("image_url")) {
        const json& u = v[i]["image_url"];
        if (u.is_string()) refs.emplace_back(field + ".image_url", u.get<std::string>());
        else if (u.is_object() && u.contains("url") && u["url"].is_string())
          refs.emplace_back(field + ".image_url", u["url"].get<std::string>());
        else throw InputError(kStatus, field + ".image_url", "must be a string (a data URL, base64 or a URL)");
      } else {
        throw InputError(kStatus, field, "must be {\"image_url\": \"data:image/png;base64,...\"}");
      }
    }
  }
  if (auto s = f.str("image")) refs.emplace_back("image", *s);
  if (static_cast<int>(refs.size() + uploads.size()) > lim.max_images)
    f.fail("image", "at most " + std::to_string(lim.max_images) + " pictures per request, got " +
                        std::to_string(refs.size() + uploads.size()));
  for (auto& [field, value] : refs) uploads.push_back(load_reference(value, field, lim, true, kStatus));
  if (uploads.empty()) f.fail("image", "an edit needs at least one picture (multipart image / image[], or JSON images)");
  // mask is accepted for compatibility and not used (Emu3.5 edits whole pictures).
  json body_less = body;
  body_less.erase("images");
  body_less.erase("image");
  body_less.erase("mask");
  body_less.erase("input_fidelity");
  return parse_common(body_less, Task::X2I, std::move(uploads), lim, common_fields());
}

}  // namespace emu35::app::serve
