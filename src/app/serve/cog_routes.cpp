// The Cog prediction API: POST /predictions, PUT/GET /predictions/{id},
// POST /predictions/{id}/cancel, GET /health-check, GET /openapi.json.
#ifdef EMU35_HAVE_HTTPLIB
#include <set>

#include "app/serve/cog_input.h"
#include "app/serve/input_error.h"
#include "app/serve/openapi.h"
#include "app/serve/prediction_json.h"
#include "app/serve/server_context.h"

using nlohmann::json;

namespace emu35::app::serve {

namespace {

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

bool wants_async(const httplib::Request& req) {
  return req.get_header_value("Prefer").find("respond-async") != std::string::npos;
}

// Multipart: text parts are input fields (or one "input" part holding the JSON
// object); file parts named reference_image / reference_image[] are pictures.
json input_from_multipart(const MultipartBody& mp) {
  static const std::set<std::string> string_fields = {"task_type", "prompt", "output_format", "ratio", "target_size"};
  json input = json::object();
  for (auto& [name, value] : mp.fields) {
    if (name == "input") {
      json j;
      try {
        j = json::parse(value);
      } catch (const json::exception& e) {
        throw InputError(400, "input", std::string("the \"input\" part is not valid JSON: ") + e.what());
      }
      if (!j.is_object()) throw InputError(422, "input", "the \"input\" part must hold a JSON object");
      for (auto& [k, v] : j.items()) input[k] = v;
    } else if (string_fields.count(name)) {
      input[name] = value;
    } else {
      // Numbers and booleans arrive as text: read them as JSON values.
      json v = json::parse(value, nullptr, false);
      input[name] = v.is_discarded() ? json(value) : v;
    }
  }
  return input;
}

struct ParsedBody {
  JobInput input;
  std::string id;  // from the body, when given
};

ParsedBody parse_prediction_body(ServerContext& ctx, const httplib::Request& req) {
  const InputLimits lim = ctx.limits();
  ParsedBody out;
  if (req.is_multipart_form_data()) {
    const MultipartBody mp = split_multipart(req);
    std::vector<ReferenceImage> uploads;
    int i = 0;
    for (auto& [name, part] : mp.files) {
      if (name != "reference_image" && name != "reference_image[]")
        throw InputError(422, name, "unknown file field (pictures go under reference_image)");
      if (static_cast<int>(uploads.size()) >= lim.max_images)
        throw InputError(422, "reference_image", "at most " + std::to_string(lim.max_images) + " pictures per request");
      const std::string field = "reference_image[" + std::to_string(i++) + "] (" + part->filename.substr(0, 64) + ")";
      uploads.push_back(decode_reference(
          std::span(reinterpret_cast<const uint8_t*>(part->content.data()), part->content.size()), field, lim, 422));
    }
    json input = input_from_multipart(mp);
    const size_t n_uploads = uploads.size();
    out.input = parse_cog_input(input, std::move(uploads), lim);
    if (n_uploads) out.input.echo["reference_image_uploads"] = n_uploads;
    return out;
  }
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception& e) {
    throw InputError(400, "", std::string("the body is not valid JSON: ") + e.what());
  }
  if (!body.is_object()) throw InputError(422, "", "the body must be a JSON object {\"input\": {...}}");
  static const std::set<std::string> known = {"input", "id", "webhook", "webhook_events_filter", "output_file_prefix",
                                              "created_at", "context"};
  for (auto& [k, v] : body.items())
    if (!known.count(k)) throw InputError(422, k.substr(0, 64), "unknown field of the request body (the inputs go inside \"input\")");
  if (body.contains("webhook") && !body["webhook"].is_null())
    throw InputError(422, "webhook", "this server never calls webhooks: poll GET /predictions/{id} or follow /predictions/{id}/events");
  if (body.contains("id") && !body["id"].is_null()) {
    if (!body["id"].is_string() || !valid_id(body["id"].get<std::string>()))
      throw InputError(422, "id", "must be 1-128 characters of letters, digits, '-', '_' or '.'");
    out.id = body["id"].get<std::string>();
  }
  if (!body.contains("input") || body["input"].is_null()) throw InputError(422, "input", "field required");
  out.input = parse_cog_input(body["input"], {}, lim);
  return out;
}

// Answers with the job: at once (202) when async, else when it is finished.
void respond(ServerContext& ctx, const std::shared_ptr<Job>& job, const httplib::Request& req, httplib::Response& res,
             bool created) {
  if (wants_async(req)) {
    send_json(res, created ? 202 : 200, prediction_json(*job, ctx.sched.snapshot(*job)));
    return;
  }
  if (!wait_for_jobs(ctx, {job}, req)) {
    // The client is gone (or the server stops): nobody reads this.
    send_cog_error(res, 503, "the prediction was canceled");
    return;
  }
  send_json(res, 200, prediction_json(*job, ctx.sched.snapshot(*job)));
}

void handle_error(httplib::Response& res, const InputError& e) {
  std::string msg = e.what();
  if (!e.field().empty() && msg.rfind(e.field() + ": ", 0) != 0) msg = e.field() + ": " + msg;
  send_cog_error(res, e.status(), msg, e.field());
}

}  // namespace

void add_cog_routes(httplib::Server& svr, ServerContext& ctx) {
  svr.Get("/health-check", [&ctx](const httplib::Request&, httplib::Response& res) {
    const SetupState s = ctx.sched.setup();
    const LiveGauges g = ctx.sched.gauges();
    std::string status = s.readiness == Readiness::Starting ? "STARTING"
                         : s.readiness == Readiness::Failed ? "SETUP_FAILED"
                         : g.active >= g.max_batch          ? "BUSY"
                                                            : "READY";
    json setup = {{"started_at", iso_time(s.started_at)},
                  {"completed_at", s.completed_at ? json(iso_time(*s.completed_at)) : json(nullptr)},
                  {"status", s.readiness == Readiness::Starting ? json(nullptr)
                             : s.readiness == Readiness::Ready  ? json("succeeded")
                                                                : json("failed")},
                  {"logs", s.error}};
    send_json(res, 200,
              {{"status", status}, {"setup", setup}, {"queue_depth", g.queue_depth}, {"active", g.active},
               {"max_batch", g.max_batch}, {"max_queue", g.max_queue}});
  });

  svr.Get("/openapi.json", [&ctx](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, openapi_document(ctx.opt, ctx.max_positions));
  });

  svr.Post("/predictions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    try {
      ParsedBody p = parse_prediction_body(ctx, req);
      std::shared_ptr<Job> job;
      bool created = true;
      if (!p.id.empty()) std::tie(job, created) = ctx.sched.submit_with_id(p.id, std::move(p.input));
      else job = ctx.sched.submit({std::move(p.input)}).front();
      respond(ctx, job, req, res, created);
    } catch (const InputError& e) {
      if (e.status() < 429) ctx.sched.metrics().prediction_rejected("invalid");
      handle_error(res, e);
    }
  });

  svr.Put(R"(/predictions/([^/]+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    if (!valid_id(id)) return send_cog_error(res, 422, "id: must be 1-128 characters of letters, digits, '-', '_' or '.'", "id");
    try {
      if (auto existing = ctx.sched.find(id)) return respond(ctx, existing, req, res, false);
      ParsedBody p = parse_prediction_body(ctx, req);
      if (!p.id.empty() && p.id != id) throw InputError(422, "id", "differs from the id in the path");
      auto [job, created] = ctx.sched.submit_with_id(id, std::move(p.input));
      respond(ctx, job, req, res, created);
    } catch (const InputError& e) {
      if (e.status() < 429) ctx.sched.metrics().prediction_rejected("invalid");
      handle_error(res, e);
    }
  });

  svr.Get(R"(/predictions/([^/]+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    auto job = ctx.sched.find(req.matches[1]);
    if (!job) return send_cog_error(res, 404, "prediction not found");
    send_json(res, 200, prediction_json(*job, ctx.sched.snapshot(*job)));
  });

  svr.Post(R"(/predictions/([^/]+)/cancel)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    if (!ctx.sched.cancel(id)) return send_cog_error(res, 404, "prediction not found");
    auto job = ctx.sched.find(id);
    send_json(res, 200, job ? prediction_json(*job, ctx.sched.snapshot(*job)) : json::object());
  });
}

}  // namespace emu35::app::serve
#endif
