// The Cog prediction response (and the pieces the event stream sends).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "app/serve/job.h"

namespace emu35::app::serve {

// "2024-05-01T12:00:00.123456+00:00", as Cog writes times.
std::string iso_time(WallTime t);

// {id, status, input, output: [data URIs] | null, text, segments, logs, error,
//  created_at, started_at, completed_at, metrics: {predict_time, ...}, urls}
nlohmann::json prediction_json(const Job& job, const JobState& st);

// Live state for the event stream: status, queue position, tokens, rows.
nlohmann::json progress_json(const Job& job, const JobState& st);
nlohmann::json preview_json(const JobPreview& p);

}  // namespace emu35::app::serve
