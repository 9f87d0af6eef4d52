// GET /predictions/{id}/events: server-sent events while a prediction runs.
//   event: progress  data: {status, queue_position, tokens, rows_done, rows_total, tokens_per_second, ...}
//   event: preview   data: {image: data URI (JPEG of the finished rows), rows_done, rows_total, ...}
//   event: done      data: the whole prediction (as GET /predictions/{id})
// The stream closes after `done`. Previews are only decoded while someone follows.
#ifdef EMU35_HAVE_HTTPLIB
#include <thread>

#include "app/serve/prediction_json.h"
#include "app/serve/server_context.h"

using nlohmann::json;

namespace emu35::app::serve {

namespace {
using Clock = std::chrono::steady_clock;
// Progress goes out at most this often (a GPU makes dozens of steps a second);
// status changes, previews and the end are sent at once.
constexpr auto kProgressEvery = std::chrono::milliseconds(100);

struct StreamState {
  bool started = false;
  uint64_t version = 0;
  JobStatus status = JobStatus::Starting;
  std::shared_ptr<const JobPreview> preview;
  Clock::time_point last_write = Clock::now(), last_progress{};
};

std::string event(const char* name, const json& data) {
  return std::string("event: ") + name + "\ndata: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}
}  // namespace

void add_event_route(httplib::Server& svr, ServerContext& ctx) {
  svr.Get(R"(/predictions/([^/]+)/events)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    auto job = ctx.sched.find(req.matches[1]);
    if (!job) return send_cog_error(res, 404, "prediction not found");
    ctx.sched.add_watcher(*job, +1);
    auto state = std::make_shared<StreamState>();
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [&ctx, job, state](size_t, httplib::DataSink& sink) {
          std::string out;
          JobState st;
          if (!state->started) {
            state->started = true;
            out += "retry: 2000\n\n";
            st = ctx.sched.snapshot(*job);
          } else {
            st = ctx.sched.wait(*job, state->version, std::chrono::milliseconds(1000));
            const auto next = state->last_progress + kProgressEvery;
            if (st.version != state->version && st.status == state->status && st.preview == state->preview &&
                Clock::now() < next) {
              std::this_thread::sleep_until(next);
              st = ctx.sched.snapshot(*job);
            }
          }
          if (out.size() || st.version != state->version) {
            state->version = st.version;
            state->status = st.status;
            state->last_progress = Clock::now();
            out += event("progress", progress_json(*job, st));
            if (st.preview && st.preview != state->preview) {
              state->preview = st.preview;
              out += event("preview", preview_json(*st.preview));
            }
          }
          const auto now = Clock::now();
          if (out.empty() && now - state->last_write > std::chrono::seconds(15)) out = ": keep-alive\n\n";
          if (is_terminal(st.status)) out += event("done", prediction_json(*job, st));
          if (!out.empty()) {
            if (!sink.write(out.data(), out.size())) return false;  // the client left
            state->last_write = now;
          }
          if (is_terminal(st.status) || ctx.sched.stopping()) sink.done();
          return true;
        },
        [&ctx, job](bool) { ctx.sched.add_watcher(*job, -1); });
  });
}

}  // namespace emu35::app::serve
#endif
