// The web page (GET / and /static/*) and the Prometheus metrics.
#ifdef EMU35_HAVE_HTTPLIB
#include "app/serve/server_context.h"
#include "app/serve/web_assets.h"

namespace emu35::app::serve {

namespace {
const WebAsset* find_asset(std::string_view name) {
  for (const WebAsset& a : web_assets())
    if (a.name == name) return &a;
  return nullptr;
}

const char* content_type(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

void serve_asset(httplib::Response& res, const WebAsset* a) {
  if (!a) return send_cog_error(res, 404, "no such file");
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(a->data.data(), a->data.size(), content_type(a->name));
}
}  // namespace

void add_page_routes(httplib::Server& svr, ServerContext& ctx) {
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
                   "connect-src 'self'");
    serve_asset(res, find_asset("index.html"));
  });
  svr.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) {
    serve_asset(res, find_asset("favicon.svg"));
  });
  svr.Get(R"(/static/([A-Za-z0-9_.-]+))", [](const httplib::Request& req, httplib::Response& res) {
    serve_asset(res, find_asset(std::string(req.matches[1])));
  });
  svr.Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(ctx.sched.metrics().render(ctx.sched.gauges()), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace emu35::app::serve
#endif
