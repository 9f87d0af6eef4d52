// OpenAI Images API bodies (as diffgentor serves them): generations and
// edits. Invalid requests are 400 with the parameter named, as OpenAI does.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/serve/job_input.h"

namespace emu35::app::serve {

struct OpenAiRequest {
  std::vector<JobInput> jobs;  // n of them; seeds seed, seed+1, ... when a seed is given
  std::string output_format;   // echoed in the response
};

OpenAiRequest parse_openai_generation(const nlohmann::json& body, const InputLimits& lim);
// `uploads`: multipart files (image, image[], images, images[]), before any
// JSON `images` entries.
OpenAiRequest parse_openai_edit(const nlohmann::json& body, std::vector<ReferenceImage> uploads,
                                const InputLimits& lim);

inline constexpr int kMaxImagesPerCall = 8;  // OpenAI's `n`

}  // namespace emu35::app::serve
