#include "app/serve/prediction_json.h"

#include <cstdio>
#include <ctime>

#include "app/serve/base64.h"

using nlohmann::json;

namespace emu35::app::serve {

std::string iso_time(WallTime t) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(us % 1000000));
  return buf;
}

namespace {
json opt_time(const std::optional<WallTime>& t) { return t ? json(iso_time(*t)) : json(nullptr); }
}  // namespace

json progress_json(const Job& job, const JobState& st) {
  const JobProgress& p = st.progress;
  return {{"id", job.id},
          {"status", job_status_name(st.status)},
          {"queue_position", p.queue_position},
          {"tokens", p.tokens},
          {"max_new_tokens", p.max_new_tokens},
          {"in_image", p.in_image},
          {"rows_done", p.rows_done},
          {"rows_total", p.rows_total},
          {"images_done", p.images_done},
          {"tokens_per_second", p.tokens_per_second}};
}

json preview_json(const JobPreview& p) {
  return {{"image", p.data_uri},      {"image_index", p.image_index}, {"rows_done", p.rows_done},
          {"rows_total", p.rows_total}, {"width", p.width},           {"height", p.height}};
}

json prediction_json(const Job& job, const JobState& st) {
  json out = {{"id", job.id},
              {"version", "emu35-0.1.0"},
              {"status", job_status_name(st.status)},
              {"input", job.input.echo},
              {"output", nullptr},
              {"text", json::array()},
              {"segments", json::array()},
              {"logs", st.logs},
              {"error", st.error.empty() ? json(nullptr) : json(st.error)},
              {"created_at", iso_time(st.created_at)},
              {"started_at", opt_time(st.started_at)},
              {"completed_at", opt_time(st.completed_at)},
              {"seed", *job.input.request.seed},
              {"urls",
               {{"get", "/predictions/" + job.id},
                {"cancel", "/predictions/" + job.id + "/cancel"},
                {"events", "/predictions/" + job.id + "/events"}}}};
  json metrics = json::object();
  if (st.started_at) {
    const WallTime end = st.completed_at ? *st.completed_at : std::chrono::system_clock::now();
    metrics["predict_time"] = std::chrono::duration<double>(end - *st.started_at).count();
  }
  if (!is_terminal(st.status)) out["progress"] = progress_json(job, st);
  if (const auto& r = st.result) {
    json images = json::array();
    for (auto& bytes : r->images) images.push_back(make_data_uri(r->mime, bytes));
    // Cog's output is the list of pictures; text-only answers give an empty list.
    if (st.status == JobStatus::Succeeded) out["output"] = std::move(images);
    out["text"] = r->text;
    out["segments"] = r->segments;
    const double gen_s = r->prefill_seconds + r->decode_seconds;
    metrics["tokens"] = r->tokens;
    metrics["tokens_per_second"] = gen_s > 0 ? r->tokens / gen_s : 0.0;
    metrics["prefill_seconds"] = r->prefill_seconds;
    metrics["decode_seconds"] = r->decode_seconds;
    metrics["vq_encode_seconds"] = r->vq_encode_seconds;
    metrics["vq_decode_seconds"] = r->vq_decode_seconds;
    metrics["stop_reason"] = r->stop_reason;
  }
  if (st.started_at) metrics["queue_time"] = std::chrono::duration<double>(*st.started_at - st.created_at).count();
  out["metrics"] = metrics;
  return out;
}

}  // namespace emu35::app::serve
