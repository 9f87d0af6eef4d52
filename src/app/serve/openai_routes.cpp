// The OpenAI Images API as diffgentor serves it: POST /v1/images/generations,
// POST /v1/images/edits, GET /v1/models[/{id}], GET /health.
#ifdef EMU35_HAVE_HTTPLIB
#include <ctime>
#include <set>

#include "app/serve/base64.h"
#include "app/serve/input_error.h"
#include "app/serve/openai_input.h"
#include "app/serve/server_context.h"

using nlohmann::json;

namespace emu35::app::serve {

namespace {

json model_object(const ServerContext& ctx) {
  return {{"id", ctx.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "emu35"}};
}

json parse_json_body(const httplib::Request& req) {
  try {
    return json::parse(req.body);
  } catch (const json::exception& e) {
    throw InputError(400, "", std::string("the body is not valid JSON: ") + e.what());
  }
}

// Multipart text fields become JSON fields (numbers and booleans parsed).
json fields_to_json(const MultipartBody& mp) {
  static const std::set<std::string> string_fields = {"prompt", "model", "size", "quality", "response_format",
                                                      "output_format", "background", "moderation", "style",
                                                      "user", "input_fidelity", "target_size", "aspect_ratio"};
  json j = json::object();
  for (auto& [name, value] : mp.fields) {
    if (string_fields.count(name)) {
      j[name] = value;
    } else {
      json v = json::parse(value, nullptr, false);
      j[name] = v.is_discarded() ? json(value) : v;
    }
  }
  return j;
}

void run_images(ServerContext& ctx, OpenAiRequest r, const httplib::Request& req, httplib::Response& res) {
  auto jobs = ctx.sched.submit(std::move(r.jobs));
  if (!wait_for_jobs(ctx, jobs, req)) return send_openai_error(res, 503, "the request was canceled");
  json data = json::array();
  std::string size;
  for (auto& job : jobs) {
    const JobState st = ctx.sched.snapshot(*job);
    if (st.status != JobStatus::Succeeded)
      return send_openai_error(res, 500, "generation " + std::string(job_status_name(st.status)) +
                                             (st.error.empty() ? "" : ": " + st.error));
    for (size_t i = 0; i < st.result->images.size(); ++i) {
      data.push_back({{"b64_json", base64_encode(st.result->images[i])}, {"revised_prompt", nullptr}, {"url", nullptr}});
      size = std::to_string(st.result->sizes[i].first) + "x" + std::to_string(st.result->sizes[i].second);
    }
  }
  send_json(res, 200,
            {{"created", static_cast<int64_t>(std::time(nullptr))},
             {"data", data},
             {"background", nullptr},
             {"output_format", r.output_format},
             {"size", size.empty() ? json(nullptr) : json(size)},
             {"quality", nullptr},
             {"usage", nullptr}});
}

template <typename F>
void guarded(ServerContext& ctx, httplib::Response& res, F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    if (e.status() < 429) ctx.sched.metrics().prediction_rejected("invalid");
    send_openai_error(res, e.status() == 422 ? 400 : e.status(), e.what(), e.field());
  }
}

}  // namespace

void add_openai_routes(httplib::Server& svr, ServerContext& ctx) {
  svr.Post("/v1/images/generations", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, res, [&] {
      json body = req.is_multipart_form_data() ? fields_to_json(split_multipart(req)) : parse_json_body(req);
      run_images(ctx, parse_openai_generation(body, ctx.limits()), req, res);
    });
  });

  svr.Post("/v1/images/edits", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(ctx, res, [&] {
      const InputLimits lim = ctx.limits();
      if (req.is_multipart_form_data()) {
        const MultipartBody mp = split_multipart(req);
        std::vector<ReferenceImage> uploads;
        int i = 0;
        for (auto& [name, part] : mp.files) {
          if (name == "mask") continue;  // accepted, not used: Emu3.5 edits whole pictures
          if (name != "image" && name != "image[]" && name != "images" && name != "images[]")
            throw InputError(400, name, "unknown file field (pictures go under image or image[])");
          if (static_cast<int>(uploads.size()) >= lim.max_images)
            throw InputError(400, "image", "at most " + std::to_string(lim.max_images) + " pictures per request");
          const std::string field = "image[" + std::to_string(i++) + "] (" + part->filename.substr(0, 64) + ")";
          uploads.push_back(decode_reference(
              std::span(reinterpret_cast<const uint8_t*>(part->content.data()), part->content.size()), field, lim, 400));
        }
        run_images(ctx, parse_openai_edit(fields_to_json(mp), std::move(uploads), lim), req, res);
      } else {
        run_images(ctx, parse_openai_edit(parse_json_body(req), {}, lim), req, res);
      }
    });
  });

  svr.Get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"object", "list"}, {"data", json::array({model_object(ctx)})}});
  });

  // Ids may contain '/' (BAAI/Emu3.5-Image): match the rest of the path.
  svr.Get(R"(/v1/models/(.+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] != ctx.model_id)
      return send_openai_error(res, 404, "The model '" + std::string(req.matches[1]).substr(0, 200) + "' does not exist", "model");
    send_json(res, 200, model_object(ctx));
  });

  svr.Get("/health", [&ctx](const httplib::Request&, httplib::Response& res) {
    const SetupState s = ctx.sched.setup();
    send_json(res, 200,
              {{"status", s.readiness == Readiness::Failed ? "error" : "ok"},
               {"mode", "t2i+edit"},
               {"model", ctx.model_id},
               {"backend_ready", s.readiness == Readiness::Ready}});
  });
}

}  // namespace emu35::app::serve
#endif
