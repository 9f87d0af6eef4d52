#include "app/serve/http_server.h"

#ifndef EMU35_HAVE_HTTPLIB
namespace emu35::app::serve {
bool http_server_available() { return false; }
int run_server(const ServeOptions&) { return 1; }
}  // namespace emu35::app::serve
#else
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <cstdlib>
#include <filesystem>
#include <thread>
#include <iostream>

#include "app/serve/base64.h"
#include "app/serve/server_context.h"
#include "common/error.h"
#include "formats/emu3_config.h"

namespace emu35::app::serve {

namespace {

bool constant_time_equal(const std::string& a, const std::string& b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < b.size(); ++i) diff |= static_cast<unsigned>(static_cast<uint8_t>(a.empty() ? 0 : a[i % a.size()]) ^ static_cast<uint8_t>(b[i]));
  return diff == 0;
}

// Bearer KEY, or Basic with KEY as the password (what a browser sends after
// its login prompt, so the web page works behind --api-key).
bool authorized(const httplib::Request& req, const std::string& key) {
  const std::string h = req.get_header_value("Authorization");
  if (h.rfind("Bearer ", 0) == 0) return constant_time_equal(h.substr(7), key);
  if (h.rfind("Basic ", 0) == 0) {
    try {
      const auto raw = base64_decode(h.substr(6), "Authorization");
      const std::string creds(raw.begin(), raw.end());
      const size_t colon = creds.find(':');
      return colon != std::string::npos && constant_time_equal(creds.substr(colon + 1), key);
    } catch (const Error&) {
      return false;
    }
  }
  return false;
}

int g_signal_pipe[2] = {-1, -1};
std::atomic<int> g_signals{0};

void on_stop_signal(int) {
  if (g_signals.fetch_add(1) > 0) _exit(130);
  const char c = 's';
  if (write(g_signal_pipe[1], &c, 1) < 0) {
  }
}

bool is_page(const std::string& path) { return path == "/" || path.rfind("/static/", 0) == 0; }
bool is_openai(const std::string& path) { return path.rfind("/v1/", 0) == 0; }

std::string default_model_id(const std::string& model_dir) {
  std::filesystem::path p = std::filesystem::path(model_dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  const std::string name = p.filename().string();
  return name.empty() ? "emu35" : name;
}

}  // namespace

bool http_server_available() { return true; }

int run_server(const ServeOptions& opt_in) {
  ServeOptions opt = opt_in;
  if (opt.max_batch < 1) throw Error("--max-batch must be at least 1");
  if (opt.max_queue < 0) throw Error("--max-queue must not be negative");
  if (opt.port < 0 || opt.port > 65535) throw Error("--port must be 0..65535");
  if (opt.vq.empty()) throw Error("--vq is required: the Emu3.5-VisionTokenizer folder");
  // Cheap checks before listening: a wrong --model fails here, not later.
  const Emu3Config cfg = Emu3Config::load(opt.model);
  if (opt.model_name.empty()) opt.model_name = default_model_id(opt.model);

  // SIGINT / SIGTERM: the handler only writes to a pipe (threads of other
  // libraries exist before us, so any thread may receive the signal); a
  // watcher thread does the stopping. SIGPIPE from a client that hung up must
  // not kill the server.
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) throw Error("cannot create a pipe for signal handling");
  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Scheduler sched(opt);
  ServerContext ctx{opt, sched, cfg.max_position_embeddings, opt.model_name};
  httplib::Server svr;
  const int threads = opt.http_threads > 0 ? opt.http_threads : std::max(16, opt.max_batch + opt.max_queue + 16);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_payload_max_length(static_cast<size_t>(opt.max_body_bytes));
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);

  svr.set_pre_routing_handler([&opt](const httplib::Request& req, httplib::Response& res) {
    if (opt.api_key.empty() || req.path == "/health-check" || req.path == "/health")
      return httplib::Server::HandlerResponse::Unhandled;
    if (authorized(req, opt.api_key)) return httplib::Server::HandlerResponse::Unhandled;
    const std::string msg = "missing or wrong API key: send Authorization: Bearer <key>";
    if (is_page(req.path)) res.set_header("WWW-Authenticate", "Basic realm=\"emu35\", charset=\"UTF-8\"");
    else res.set_header("WWW-Authenticate", "Bearer");
    if (is_openai(req.path)) send_openai_error(res, 401, msg);
    else send_cog_error(res, 401, msg);
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.content_length_ > 0 || res.is_chunked_content_provider_) return;
    std::string msg = res.status == 404   ? "no such route: " + req.method + " " + req.path.substr(0, 200)
                      : res.status == 413 ? "the request body is too large (see --max-body-mb)"
                      : res.status == 405 ? "method not allowed"
                                          : "bad request (HTTP " + std::to_string(res.status) + ")";
    if (is_openai(req.path)) send_openai_error(res, res.status, msg);
    else send_cog_error(res, res.status, msg);
  });
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg += std::string(": ") + e.what();
    } catch (...) {
    }
    std::cerr << "emu35 serve: " << req.method << " " << req.path << ": " << msg << "\n";
    if (is_openai(req.path)) send_openai_error(res, 500, msg);
    else send_cog_error(res, 500, msg);
  });
  svr.set_logger([&sched](const httplib::Request& req, const httplib::Response& res) {
    sched.metrics().http_response(res.status);
    if (req.path != "/health-check" && req.path != "/health" && req.path != "/metrics" && req.path.rfind("/static/", 0) != 0)
      std::cerr << "emu35 serve: " << req.method << " " << req.path.substr(0, 200) << " " << res.status << "\n";
  });

  add_page_routes(svr, ctx);
  add_cog_routes(svr, ctx);
  add_event_route(svr, ctx);
  add_openai_routes(svr, ctx);

  int port = opt.port;
  if (port == 0) {
    port = svr.bind_to_any_port(opt.host);
    if (port < 0) throw Error("cannot listen on " + opt.host + " (any port)");
  } else if (!svr.bind_to_port(opt.host, port)) {
    throw Error("cannot listen on " + opt.host + ":" + std::to_string(port) + " (in use, or not an address of this machine)");
  }
  // The socket is open: load the weights in the background (STARTING meanwhile).
  sched.start();
  const bool loopback = opt.host == "127.0.0.1" || opt.host == "localhost" || opt.host == "::1";
  std::cout << "emu35 serve: listening on http://" << (opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host)
            << ":" << port << "/" << std::endl;
  if (!loopback && opt.api_key.empty())
    std::cerr << "emu35 serve: warning: listening beyond loopback without --api-key: anyone who can reach "
              << opt.host << " can use the model\n";

  // First signal: stop gracefully (running requests end as canceled). A
  // second one, e.g. while weights are still loading, exits at once.
  std::thread watcher([&svr, &sched] {
    char c = 0;
    while (read(g_signal_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    if (c != 's') return;  // 'q': the server stopped by itself
    std::cerr << "emu35 serve: stopping (again to exit at once)\n";
    sched.request_stop();
    svr.stop();
  });
  const bool ok = svr.listen_after_bind();
  sched.stop();
  const char q = 'q';
  if (write(g_signal_pipe[1], &q, 1) < 0) {
  }
  watcher.join();
  return ok ? 0 : 1;
}

}  // namespace emu35::app::serve
#endif
