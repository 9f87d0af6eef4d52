// The Cog predictor's inputs (upstream predict.py) plus ours, from a
// prediction body's "input" object. Schema errors are 422 naming the field.
#pragma once
#include <nlohmann/json.hpp>
#include <vector>

#include "app/serve/job_input.h"

namespace emu35::app::serve {

// `uploads`: pictures sent as multipart files, appended after the input's
// reference_image list.
JobInput parse_cog_input(const nlohmann::json& input, std::vector<ReferenceImage> uploads, const InputLimits& lim);

// The input fields, for the OpenAPI schema and error messages.
const std::vector<std::string>& cog_input_fields();

// Cog's "ratio": width:height presets, match_input (the last reference
// picture's shape; 1:1 without one) or auto (the model chooses).
const std::vector<std::string>& cog_ratio_values();

}  // namespace emu35::app::serve
