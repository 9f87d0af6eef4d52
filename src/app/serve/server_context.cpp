#ifdef EMU35_HAVE_HTTPLIB
#include "app/serve/server_context.h"

#include "app/serve/connection_watch.h"
#include "app/serve/input_error.h"

using nlohmann::json;

namespace emu35::app::serve {

InputLimits ServerContext::limits() const {
  InputLimits lim;
  lim.max_images = opt.max_images;
  lim.max_image_pixels = static_cast<uint64_t>(opt.max_image_pixels);
  lim.max_positions = max_positions;
  lim.tokenizer = sched.tokenizer();
  if (opt.allow_url_images) {
    const int64_t cap = opt.max_body_bytes;
    lim.fetch_url = [cap](const std::string& url, const std::string& field) { return fetch_url(url, field, cap); };
  }
  return lim;
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_cog_error(httplib::Response& res, int status, const std::string& message, const std::string& field) {
  if (status == 422) {
    json loc = {"body", "input"};
    if (!field.empty()) loc.push_back(field);
    send_json(res, status, {{"detail", json::array({{{"loc", loc}, {"msg", message}, {"type", "value_error"}}})}});
  } else {
    send_json(res, status, {{"detail", message}});
  }
}

void send_openai_error(httplib::Response& res, int status, const std::string& message, const std::string& param) {
  const char* type = status == 401   ? "authentication_error"
                     : status == 404 ? "not_found_error"
                     : status == 429 ? "rate_limit_error"
                     : status >= 500 ? "server_error"
                                     : "invalid_request_error";
  send_json(res, status,
            {{"error", {{"message", message}, {"type", type}, {"param", param.empty() ? json(nullptr) : json(param)},
                        {"code", nullptr}}}});
}

bool wait_for_jobs(ServerContext& ctx, const std::vector<std::shared_ptr<Job>>& jobs, const httplib::Request& req) {
  ConnectionWatch watch(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
  for (auto& job : jobs) {
    uint64_t seen = 0;
    for (;;) {
      const JobState st = ctx.sched.wait(*job, seen, std::chrono::milliseconds(200));
      seen = st.version;
      if (is_terminal(st.status)) break;
      if (ctx.sched.stopping() || watch.closed()) {
        for (auto& j : jobs) ctx.sched.cancel(j->id);
        return false;
      }
    }
  }
  return true;
}

MultipartBody split_multipart(const httplib::Request& req) {
  MultipartBody b;
  for (auto& [name, part] : req.files) {
    if (!part.filename.empty()) b.files.emplace_back(name, &part);
    else b.fields.emplace_back(name, part.content);
  }
  return b;
}

std::string fetch_url(const std::string& url, const std::string& field, int64_t max_bytes) {
  const size_t scheme_end = url.find("://");
  const size_t path_start = url.find('/', scheme_end + 3);
  const std::string origin = url.substr(0, path_start);
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client cli(origin);
  if (!cli.is_valid()) throw InputError(422, field, "cannot fetch " + url.substr(0, 200) + ": unsupported URL");
  cli.set_follow_location(true);
  cli.set_connection_timeout(10);
  cli.set_read_timeout(30);
  std::string body;
  bool too_big = false;
  auto r = cli.Get(path, [&](const char* data, size_t n) {
    if (static_cast<int64_t>(body.size() + n) > max_bytes) {
      too_big = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (too_big) throw InputError(422, field, "the picture at the URL is larger than the body limit");
  if (!r) throw InputError(422, field, "cannot fetch " + url.substr(0, 200) + ": " + httplib::to_string(r.error()));
  if (r->status != 200)
    throw InputError(422, field, "fetching " + url.substr(0, 200) + " answered HTTP " + std::to_string(r->status));
  return body;
}

}  // namespace emu35::app::serve
#endif
