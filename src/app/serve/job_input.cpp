#include "app/serve/job_input.h"

#include <set>

#include "app/serve/base64.h"
#include "app/serve/input_error.h"
#include "image/image_read.h"
#include "image/resize.h"
#include "text/tokenizer.h"

namespace emu35::app::serve {

ReferenceImage decode_reference(std::span<const uint8_t> bytes, const std::string& field, const InputLimits& lim,
                                int status) {
  if (bytes.empty()) throw InputError(status, field, "the picture is empty");
  try {
    return {field, decode_image(bytes, field, {lim.max_image_pixels})};
  } catch (const Error& e) {
    // decode_image's messages name the source we gave it: the field leads already.
    std::string msg = e.what();
    for (const std::string& lead : {"image '" + field + "': ", field + ": "})
      if (msg.rfind(lead, 0) == 0) msg = msg.substr(lead.size());
    throw InputError(status, field, msg);
  }
}

ReferenceImage load_reference(const std::string& value, const std::string& field, const InputLimits& lim,
                              bool raw_base64, int status) {
  std::vector<uint8_t> bytes;
  try {
    if (is_data_uri(value)) {
      bytes = parse_data_uri(value, field).bytes;
    } else if (value.rfind("http://", 0) == 0 || value.rfind("https://", 0) == 0) {
      if (!lim.fetch_url)
        throw InputError(status, field,
                         "picture URLs are switched off on this server (send a data: URI or upload the file; "
                         "the operator can allow URLs with --allow-url-images)");
      const std::string b = lim.fetch_url(value, field);
      bytes.assign(b.begin(), b.end());
    } else if (raw_base64 && !value.empty()) {
      bytes = base64_decode(value, field);
    } else {
      throw InputError(status, field,
                       std::string("expected a data: URI (data:image/png;base64,...)") +
                           (raw_base64 ? ", base64 or a URL" : " or a URL"));
    }
  } catch (const InputError&) {
    throw;
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(field + ": ", 0) == 0) msg = msg.substr(field.size() + 2);
    throw InputError(status, field, msg);
  }
  return decode_reference(bytes, field, lim, status);
}

std::string describe_reference(const ReferenceImage& r, size_t bytes) {
  return "<picture " + std::to_string(r.image.width) + "x" + std::to_string(r.image.height) + ", " +
         std::to_string(bytes) + " bytes>";
}

const std::vector<std::string>& generation_field_names() {
  static const std::vector<std::string> f = {
      "max_new_tokens", "seed",        "guidance_scale", "image_cfg_scale", "text_top_k",  "text_top_p",
      "text_temperature", "image_top_k", "image_top_p",  "image_temperature", "image_area", "target_size",
      "start_image",    "raw_prompt"};
  return f;
}

void read_generation_fields(const JsonFields& f, Request& r, const InputLimits& lim) {
  const int64_t ctx = lim.max_positions > 0 ? lim.max_positions : (int64_t(1) << 30);
  if (auto n = f.integer("max_new_tokens", 1, ctx)) r.max_new_tokens = static_cast<int>(*n);
  if (auto s = f.integer("seed", 0, INT64_MAX)) r.seed = static_cast<uint64_t>(*s);
  if (auto g = f.number("guidance_scale", 0, 100)) r.guidance_scale = static_cast<float>(*g);
  if (auto g = f.number("image_cfg_scale", 0, 100)) r.image_cfg_scale = static_cast<float>(*g);
  if (auto k = f.integer("text_top_k", 1, 1 << 30)) r.text_top_k = static_cast<int>(*k);
  if (auto k = f.integer("image_top_k", 1, 1 << 30)) r.image_top_k = static_cast<int>(*k);
  if (auto p = f.number("text_top_p", 0, 1, true)) r.text_top_p = static_cast<float>(*p);
  if (auto p = f.number("image_top_p", 0, 1, true)) r.image_top_p = static_cast<float>(*p);
  if (auto t = f.number("text_temperature", 0, 100, true)) r.text_temperature = static_cast<float>(*t);
  if (auto t = f.number("image_temperature", 0, 100, true)) r.image_temperature = static_cast<float>(*t);
  if (auto a = f.integer("image_area", 256, int64_t(16) << 20)) r.image_area = *a;
  r.start_image = f.boolean("start_image").value_or(false);
  r.raw_prompt = f.boolean("raw_prompt").value_or(false);
  if (auto ts = f.str("target_size")) {
    try {
      r.target_size = parse_token_size(*ts);
    } catch (const Error& e) {
      f.fail("target_size", std::string("expected ROWSxCOLS in 16-pixel tokens, e.g. 64x64 (") + e.what() + ")");
    }
  }
}

namespace {
bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    const int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (int k = 1; k < n; ++k)
      if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80) return false;
    i += static_cast<size_t>(n);
  }
  return true;
}

// resolve_params names the field first ("max_new_tokens: ..." or
// "text_top_k must ..."); "images" is ours, APIs call it otherwise.
InputError to_input_error(const Error& e, int status, const std::string& images_field) {
  std::string msg = e.what();
  const size_t end = msg.find_first_of(": ");
  std::string field = end == std::string::npos ? "" : msg.substr(0, end);
  static const std::set<std::string> known = {"prompt",          "images",        "guidance_scale", "image_cfg_scale",
                                              "max_new_tokens",  "image_area",    "target_size",    "text_top_k",
                                              "text_top_p",      "text_temperature", "image_top_k", "image_top_p",
                                              "image_temperature", "aspect_ratio"};
  if (!known.count(field)) return InputError(status, "", msg);
  std::string rest = msg.substr(end);
  rest = rest.substr(rest.find_first_not_of(": "));
  if (field == "images") field = images_field;
  return InputError(status, field, rest);
}
}  // namespace

void finalize_input(JobInput& in, const InputLimits& lim, int status, const std::string& images_field) {
  Request& r = in.request;
  if (!valid_utf8(r.prompt)) throw InputError(status, "prompt", "is not valid UTF-8");
  if (static_cast<int>(r.images.size()) > lim.max_images)
    throw InputError(status, images_field,
                     "at most " + std::to_string(lim.max_images) + " pictures per request, got " +
                         std::to_string(r.images.size()));
  try {
    in.params = resolve_params(r);
  } catch (const Error& e) {
    throw to_input_error(e, status, images_field);
  }
  r.seed = in.params.seed;  // the chosen seed is reported and reused
  in.require_image = r.task == Task::T2I || r.task == Task::X2I;

  // The budget: prompt (exact once the tokenizer is loaded; its UTF-8 length
  // bounds it before), the template, every reference picture, the answer.
  int64_t tokens = static_cast<int64_t>(r.prompt.size());
  if (lim.tokenizer) {
    try {
      tokens = static_cast<int64_t>(lim.tokenizer->encode(r.prompt).size());
    } catch (const Error& e) {
      throw InputError(status, "prompt", e.what());
    }
  }
  tokens += 48;
  for (const ReferenceImage& img : r.images) {
    auto [w, h] = smart_resize_size(img.image.width, img.image.height, in.params.image_area);
    tokens += image_token_count(TokenSize{h / 16, w / 16});
  }
  if (lim.max_positions > 0 && tokens + in.params.max_new_tokens > lim.max_positions)
    throw InputError(status, "max_new_tokens",
                     std::to_string(in.params.max_new_tokens) + " new tokens after a prompt of about " +
                         std::to_string(tokens) + " tokens (with its pictures) exceed the model's context of " +
                         std::to_string(lim.max_positions) + " tokens");
}

}  // namespace emu35::app::serve
