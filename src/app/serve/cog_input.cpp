#include "app/serve/cog_input.h"

#include <set>

#include "app/serve/input_error.h"
#include "app/serve/json_fields.h"
#include "image/resize.h"

using nlohmann::json;

namespace emu35::app::serve {

const std::vector<std::string>& cog_input_fields() {
  static const std::vector<std::string> f = [] {
    std::vector<std::string> v = {"task_type", "prompt", "reference_image", "output_format", "quality", "ratio"};
    for (auto& g : generation_field_names()) v.push_back(g);
    return v;
  }();
  return f;
}

const std::vector<std::string>& cog_ratio_values() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> r = {"match_input"};
    for (auto& k : aspect_ratio_keys()) r.push_back(k);
    r.push_back("auto");
    return r;
  }();
  return v;
}

JobInput parse_cog_input(const json& input, std::vector<ReferenceImage> uploads, const InputLimits& lim) {
  constexpr int kStatus = 422;
  if (!input.is_object()) throw InputError(kStatus, "input", std::string("must be an object, got ") + input.type_name());
  JsonFields f(input, kStatus);
  const auto& names = cog_input_fields();
  f.only(std::set<std::string>(names.begin(), names.end()));

  JobInput in;
  in.echo = input;
  Request& r = in.request;
  static const std::set<std::string> tasks = {"t2i", "x2i", "howto", "story", "explore", "vla"};
  if (auto t = f.str("task_type")) {
    std::string low = *t;
    for (char& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!tasks.count(low)) f.fail("task_type", "must be one of " + join(tasks) + ", got \"" + t->substr(0, 40) + "\"");
    r.task = parse_task(low);
  }
  auto prompt = f.str("prompt");
  if (!prompt) f.fail("prompt", "is required");
  r.prompt = *prompt;

  // reference_image: one string or a list of them; uploaded files follow.
  if (f.has("reference_image")) {
    const json& v = f.raw("reference_image");
    std::vector<std::string> values;
    if (v.is_string()) {
      values.push_back(v.get<std::string>());
    } else if (v.is_array()) {
      for (auto& e : v) {
        if (!e.is_string()) f.fail("reference_image", "must be a list of data: URIs (or URLs)");
        values.push_back(e.get<std::string>());
      }
    } else {
      f.fail("reference_image", "must be a data: URI or a list of them");
    }
    if (static_cast<int>(values.size() + uploads.size()) > lim.max_images)
      f.fail("reference_image", "at most " + std::to_string(lim.max_images) + " pictures per request, got " +
                                    std::to_string(values.size() + uploads.size()));
    json echo = json::array();
    for (size_t i = 0; i < values.size(); ++i) {
      const std::string field = "reference_image[" + std::to_string(i) + "]";
      r.images.push_back(load_reference(values[i], field, lim, false, kStatus));
      echo.push_back(values[i].rfind("http", 0) == 0 ? values[i] : describe_reference(r.images.back(), values[i].size()));
    }
    in.echo["reference_image"] = echo;
  }
  for (auto& u : uploads) r.images.push_back(std::move(u));

  read_generation_fields(f, r, lim);
  if (auto fmt = f.choice("output_format", {"png", "jpeg", "jpg", "webp"})) in.format = parse_image_format(*fmt);
  if (auto q = f.integer("quality", 1, 100)) in.quality = static_cast<int>(*q);
  // ratio, in the official width:height sense (Cog's own formula read it as
  // height:width; we do not copy that). match_input: the last reference
  // picture's token grid at the request's image area.
  const auto& ratios = cog_ratio_values();
  const std::string ratio =
      f.choice("ratio", std::set<std::string>(ratios.begin(), ratios.end())).value_or("match_input");
  if (!r.target_size) {
    if (ratio == "match_input") {
      if (!r.images.empty()) {
        const int64_t area = r.image_area.value_or(task_defaults(r.task).image_area);
        const Image& last = r.images.back().image;
        auto [w, h] = smart_resize_size(last.width, last.height, area);
        r.target_size = TokenSize{h / 16, w / 16};
      } else {
        r.aspect_ratio = "1:1";
      }
    } else {
      r.aspect_ratio = ratio;
    }
  }
  finalize_input(in, lim, kStatus, "reference_image");
  return in;
}

}  // namespace emu35::app::serve
