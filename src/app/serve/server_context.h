// What every route handler shares, and the small helpers they all use
// (JSON answers in each API's error shape, waiting for results while
// watching the client's connection). Only built with cpp-httplib.
#pragma once
#ifdef EMU35_HAVE_HTTPLIB
#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/serve/job_input.h"
#include "app/serve/scheduler.h"
#include "app/serve/serve_options.h"

namespace emu35::app::serve {

struct ServerContext {
  ServeOptions opt;
  Scheduler& sched;
  int64_t max_positions = 0;
  std::string model_id;

  // Limits for parsing a request now (exact token counts once loaded).
  InputLimits limits() const;
};

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
// Cog / FastAPI style: {"detail": "..."}; 422s as {"detail": [{loc, msg, type}]}.
void send_cog_error(httplib::Response& res, int status, const std::string& message, const std::string& field = "");
// OpenAI style: {"error": {"message", "type", "param", "code"}}.
void send_openai_error(httplib::Response& res, int status, const std::string& message, const std::string& param = "");

// Waits until every job is finished. Returns false (after canceling them)
// when the client hung up or the server is stopping.
bool wait_for_jobs(ServerContext& ctx, const std::vector<std::shared_ptr<Job>>& jobs, const httplib::Request& req);

// Multipart parts: files (with a filename) by field name in order, and text fields.
struct MultipartBody {
  std::vector<std::pair<std::string, const httplib::MultipartFormData*>> files;
  std::vector<std::pair<std::string, std::string>> fields;
};
MultipartBody split_multipart(const httplib::Request& req);

// Downloads an http(s) picture (only with --allow-url-images).
std::string fetch_url(const std::string& url, const std::string& field, int64_t max_bytes);

void add_cog_routes(httplib::Server& svr, ServerContext& ctx);
void add_openai_routes(httplib::Server& svr, ServerContext& ctx);
void add_page_routes(httplib::Server& svr, ServerContext& ctx);
void add_event_route(httplib::Server& svr, ServerContext& ctx);

}  // namespace emu35::app::serve
#endif
