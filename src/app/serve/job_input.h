// A validated request, ready to queue: what both HTTP APIs turn their bodies
// into. Everything is checked here, before the model sees anything.
#pragma once
#include <emu35/emu35.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "app/serve/json_fields.h"
#include "image/image_format.h"

namespace emu35::app::serve {

struct JobInput {
  Request request;        // the seed is always set (chosen when not given)
  ResolvedParams params;  // defaults applied, for reporting
  ImageFormat format = ImageFormat::PNG;
  int quality = 95;
  bool require_image = true;  // t2i / x2i: finishing without a picture is a failure
  nlohmann::json echo;        // the input as given, pictures summarised
};

struct InputLimits {
  int max_images = 8;
  uint64_t max_image_pixels = uint64_t(16) << 20;
  int64_t max_positions = 0;               // the model's context
  const Tokenizer* tokenizer = nullptr;    // exact prompt lengths once loaded
  // Downloads an http(s) picture; empty when URL pictures are not allowed.
  std::function<std::string(const std::string& url, const std::string& field)> fetch_url;
};

// One reference picture from a string: a data: URI, an http(s) URL (only with
// fetch_url), or (raw_base64) bare base64. Errors are InputError(status, field).
ReferenceImage load_reference(const std::string& value, const std::string& field, const InputLimits& lim,
                              bool raw_base64, int status);
// From uploaded bytes.
ReferenceImage decode_reference(std::span<const uint8_t> bytes, const std::string& field, const InputLimits& lim,
                                int status);
// What an echoed input shows instead of a picture.
std::string describe_reference(const ReferenceImage& r, size_t bytes);

// The generation settings both APIs share (names as `emu35 generate`'s
// options): max_new_tokens, seed, guidance_scale, image_cfg_scale, the
// text_/image_ top_k, top_p and temperature, image_area, target_size,
// start_image, raw_prompt.
void read_generation_fields(const JsonFields& f, Request& r, const InputLimits& lim);
const std::vector<std::string>& generation_field_names();

// Applies defaults (resolve_params), fixes the seed, and checks the token
// budget against the context. `images_field` is what errors call the
// pictures. Throws InputError(status, field).
void finalize_input(JobInput& in, const InputLimits& lim, int status, const std::string& images_field);

}  // namespace emu35::app::serve
