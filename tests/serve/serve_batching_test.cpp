// Continuous batching: concurrent requests share steps and give exactly what
// they give alone; cancel and client hang-ups free their slots; a full queue
// answers 429; the server says STARTING while loading; a few hundred mixed
// requests leave it alive with flat memory.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "serve_process.h"

namespace emu35::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A request that takes a few seconds on the fixture model (a 60x60 picture).
json slow_input(uint64_t seed) { return tiny_input(seed, "60x60", 3800); }

bool wait_until(const std::function<bool()>& cond, std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(ServeBatching, EightConcurrentRequestsMatchSequentialOnes) {
  ServeProcess server({"--max-batch", "8"});
  REQUIRE_SERVER(server);
  HttpClient c = server.client();
  constexpr int kN = 8;
  auto input = [](int i) { return tiny_input(1000 + i, i % 2 ? "6x8" : "8x6", 64); };

  std::vector<json> concurrent(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i)
    threads.emplace_back([&, i] { concurrent[i] = c.post_json("/predictions", {{"input", input(i)}}).json(); });
  for (auto& t : threads) t.join();
  // They really were drawn together: some steps held several requests.
  const double steps = metric(c, "emu35_step_batch_size_count");
  const double single = metric(c, "emu35_step_batch_size_bucket{le=\"1\"}");
  EXPECT_GT(steps - single, 10) << "no step batched more than one request";

  for (int i = 0; i < kN; ++i) {
    json alone = c.post_json("/predictions", {{"input", input(i)}}).json();
    ASSERT_EQ(concurrent[i]["status"], "succeeded") << concurrent[i].dump().substr(0, 400);
    ASSERT_EQ(alone["status"], "succeeded");
    EXPECT_EQ(concurrent[i]["output"], alone["output"]) << "request " << i << " differs when batched";
    EXPECT_EQ(concurrent[i]["metrics"]["tokens"], alone["metrics"]["tokens"]);
  }
  EXPECT_NE(concurrent[0]["output"], concurrent[2]["output"]);  // different seeds, different pictures
}

TEST(ServeBatching, CancelFreesTheSlotAtOnce) {
  ServeProcess server({"--max-batch", "1", "--max-queue", "4"});
  REQUIRE_SERVER(server);
  HttpClient c = server.client();
  const std::map<std::string, std::string> async = {{"Prefer", "respond-async"}};
  const std::string slow = c.post_json("/predictions", {{"input", slow_input(1)}}, async).json()["id"];
  ASSERT_TRUE(wait_until([&] { return c.get("/predictions/" + slow).json()["status"] == "processing"; }));
  // The only slot is taken: the next one waits in the queue.
  const std::string queued = c.post_json("/predictions", {{"input", tiny_input(2)}}, async).json()["id"];
  const std::string doomed = c.post_json("/predictions", {{"input", tiny_input(3)}}, async).json()["id"];
  json q = c.get("/predictions/" + doomed).json();
  EXPECT_EQ(q["status"], "starting");
  EXPECT_EQ(q["progress"]["queue_position"], 2);
  EXPECT_EQ(c.get("/health-check").json()["status"], "BUSY");

  // Canceling a queued request removes it without ever starting it.
  ASSERT_EQ(c.request("POST", "/predictions/" + doomed + "/cancel").status, 200);
  json d = c.get("/predictions/" + doomed).json();
  EXPECT_EQ(d["status"], "canceled");
  EXPECT_TRUE(d["started_at"].is_null());

  // Canceling the running one hands its slot to the queued request right away.
  const auto t0 = Clock::now();
  ASSERT_EQ(c.request("POST", "/predictions/" + slow + "/cancel").status, 200);
  json s = wait_prediction(c, slow, std::chrono::seconds(10));
  EXPECT_EQ(s["status"], "canceled");
  json n = wait_prediction(c, queued, std::chrono::seconds(10));
  EXPECT_EQ(n["status"], "succeeded");
  EXPECT_LT(seconds_since(t0), 5.0) << "the queued request waited for the canceled one";
  EXPECT_EQ(metric(c, "emu35_batch_size"), 0);
  EXPECT_GE(metric(c, "emu35_predictions_total{status=\"canceled\"}"), 2);
}

TEST(ServeBatching, ClientHangUpCancelsItsRequest) {
  ServeProcess server({"--max-batch", "1"});
  REQUIRE_SERVER(server);
  HttpClient c = server.client();
  // A synchronous PUT (so we know its id), then the client goes away.
  const std::string id = "hangup-" + std::to_string(::getpid());
  const int fd = c.send_only("PUT", "/predictions/" + id, json{{"input", slow_input(5)}}.dump(),
                             {{"Content-Type", "application/json"}});
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(wait_until([&] {
    auto r = c.get("/predictions/" + id);
    return r.status == 200 && r.json()["status"] == "processing";
  }));
  const auto t0 = Clock::now();
  ::close(fd);
  json j = wait_prediction(c, id, std::chrono::seconds(10));
  EXPECT_EQ(j["status"], "canceled");
  EXPECT_LT(seconds_since(t0), 5.0);
  // The slot is free: a new request runs at once.
  EXPECT_EQ(c.post_json("/predictions", {{"input", tiny_input(6)}}).json()["status"], "succeeded");

  // Same for the OpenAI API (we cannot name its id: watch the batch gauge).
  const int fd2 = c.send_only("POST", "/v1/images/generations",
                              json{{"prompt", "x"}, {"start_image", true}, {"size", "960x960"}, {"image_area", 4096},
                                   {"max_new_tokens", 3800}, {"seed", 1}}.dump(),
                              {{"Content-Type", "application/json"}});
  ASSERT_TRUE(wait_until([&] { return metric(c, "emu35_batch_size") == 1; }));
  ::close(fd2);
  EXPECT_TRUE(wait_until([&] { return metric(c, "emu35_batch_size") == 0; }, std::chrono::seconds(5)));
  EXPECT_TRUE(wait_until([&] { return metric(c, "emu35_predictions_total{status=\"canceled\"}") == 2; },
                         std::chrono::seconds(5)));
}

TEST(ServeBatching, FullQueueAnswers429) {
  ServeProcess server({"--max-batch", "1", "--max-queue", "2"});
  REQUIRE_SERVER(server);
  HttpClient c = server.client();
  const std::map<std::string, std::string> async = {{"Prefer", "respond-async"}};
  std::vector<std::string> ids;
  ids.push_back(c.post_json("/predictions", {{"input", slow_input(1)}}, async).json()["id"]);
  ASSERT_TRUE(wait_until([&] { return c.get("/predictions/" + ids[0]).json()["status"] == "processing"; }));
  for (int i = 0; i < 2; ++i) {
    auto r = c.post_json("/predictions", {{"input", tiny_input(i)}}, async);
    ASSERT_EQ(r.status, 202);
    ids.push_back(r.json()["id"]);
  }
  auto full = c.post_json("/predictions", {{"input", tiny_input(9)}}, async);
  EXPECT_EQ(full.status, 429);
  EXPECT_NE(full.body.find("queue"), std::string::npos);
  auto o = c.post_json("/v1/images/generations", {{"prompt", "x"}});
  EXPECT_EQ(o.status, 429);
  EXPECT_EQ(o.json()["error"]["type"], "rate_limit_error");
  EXPECT_EQ(metric(c, "emu35_queue_depth"), 2);
  EXPECT_GE(metric(c, "emu35_predictions_rejected_total{reason=\"queue_full\"}"), 2);
  for (auto& id : ids) c.request("POST", "/predictions/" + id + "/cancel");
}

TEST(ServeStartup, StartingWhileLoadingThenReady) {
  ServeProcess server({"--startup-delay-ms", "1500"}, /*wait_ready=*/false);
  REQUIRE_SERVER(server);
  HttpClient c = server.client();
  json h = c.get("/health-check").json();
  EXPECT_EQ(h["status"], "STARTING");
  EXPECT_TRUE(h["setup"]["completed_at"].is_null());
  EXPECT_EQ(c.get("/health").json()["backend_ready"], false);
  // Requests made meanwhile wait for the weights.
  auto r = c.post_json("/predictions", {{"input", tiny_input(4)}}, {{"Prefer", "respond-async"}});
  ASSERT_EQ(r.status, 202);
  EXPECT_EQ(r.json()["status"], "starting");
  json done = wait_prediction(c, r.json()["id"]);
  EXPECT_EQ(done["status"], "succeeded");
  EXPECT_EQ(c.get("/health-check").json()["status"], "READY");
  // SIGTERM: a clean exit.
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeStartup, SetupFailureIsReported) {
  TempDir empty("no-vq");
  ServeProcess server({"--vq", empty.path().string()}, /*wait_ready=*/false);
  REQUIRE_SERVER(server);
  HttpClient c = server.client();
  ASSERT_TRUE(wait_until([&] { return c.get("/health-check").json()["status"] != "STARTING"; }));
  json h = c.get("/health-check").json();
  EXPECT_EQ(h["status"], "SETUP_FAILED");
  EXPECT_NE(h["setup"]["logs"].get<std::string>().find(empty.path().filename().string()), std::string::npos) << h.dump();
  auto r = c.post_json("/predictions", {{"input", tiny_input(4)}});
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(server.alive());
}

TEST(ServeSoak, HundredsOfMixedRequestsNoCrashFlatMemory) {
  ServeProcess server({"--max-batch", "4", "--max-queue", "64", "--keep-predictions", "50"});
  REQUIRE_SERVER(server);
  HttpClient c = server.client();
  std::atomic<int> ok{0}, rejected{0}, unexpected{0};
  auto one = [&](int i) {
    const uint64_t seed = static_cast<uint64_t>(i);
    switch (i % 8) {
      case 0: case 1: {
        auto r = c.post_json("/predictions", {{"input", tiny_input(seed, "2x3", 30)}});
        (r.status == 200 && r.json()["status"] == "succeeded" ? ok : unexpected)++;
        break;
      }
      case 2: {  // async, then cancel
        auto r = c.post_json("/predictions", {{"input", tiny_input(seed, "6x6", 200)}}, {{"Prefer", "respond-async"}});
        if (r.status != 202) { unexpected++; break; }
        (c.request("POST", "/predictions/" + r.json()["id"].get<std::string>() + "/cancel").status == 200 ? ok : unexpected)++;
        break;
      }
      case 3: {
        auto r = c.post_json("/v1/images/generations", {{"prompt", "p"}, {"size", "32x32"}, {"start_image", true},
                                                        {"image_area", 4096}, {"max_new_tokens", 20}, {"seed", seed}});
        (r.status == 200 ? ok : unexpected)++;
        break;
      }
      case 4: {  // invalid
        json in = tiny_input(seed);
        in["seed"] = "x";
        (c.post_json("/predictions", {{"input", in}}).status == 422 ? rejected : unexpected)++;
        break;
      }
      case 5: {
        (c.request("POST", "/predictions", "{bad", {{"Content-Type", "application/json"}}).status == 400 ? rejected : unexpected)++;
        break;
      }
      case 6: {  // a client that hangs up at once
        const int fd = c.send_only("POST", "/predictions", json{{"input", tiny_input(seed, "4x4", 40)}}.dump(),
                                   {{"Content-Type", "application/json"}});
        if (fd >= 0) ::close(fd);
        ok++;
        break;
      }
      default: {
        (c.get("/metrics").status == 200 && c.get("/health-check").status == 200 ? ok : unexpected)++;
      }
    }
  };
  constexpr int kThreads = 4, kTotal = 320, kWarmup = 64;
  auto run_range = [&](int from, int to) {
    std::atomic<int> next{from};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&] {
        for (int i; (i = next++) < to;) one(i);
      });
    for (auto& t : ts) t.join();
  };
  run_range(0, kWarmup);
  ASSERT_TRUE(wait_until([&] { return metric(c, "emu35_batch_size") == 0 && metric(c, "emu35_queue_depth") == 0; }));
  const long rss_warm = server.rss_kb();
  const auto t0 = Clock::now();
  run_range(kWarmup, kTotal);
  ASSERT_TRUE(wait_until([&] { return metric(c, "emu35_batch_size") == 0 && metric(c, "emu35_queue_depth") == 0; }));
  const long rss_end = server.rss_kb();
  std::cout << "[ soak ] " << kTotal << " requests, " << ok << " ok, " << rejected << " rejected as expected, "
            << seconds_since(t0) << " s after warm-up; RSS " << rss_warm / 1024 << " -> " << rss_end / 1024 << " MiB\n";
  EXPECT_EQ(unexpected, 0);
  EXPECT_TRUE(server.alive()) << server.log();
  EXPECT_LT(rss_end - rss_warm, 48 * 1024) << "RSS grew from " << rss_warm << " kB to " << rss_end << " kB";
  EXPECT_EQ(c.get("/health-check").json()["status"], "READY");
}

}  // namespace
}  // namespace emu35::test
