// GET /openapi.json: the Cog-style schema of the prediction inputs and
// outputs, plus the other routes.
#pragma once
#include <nlohmann/json.hpp>

#include "app/serve/serve_options.h"

namespace emu35::app::serve {

nlohmann::json openapi_document(const ServeOptions& opt, int64_t max_positions);

}  // namespace emu35::app::serve
