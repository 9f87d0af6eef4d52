// Both HTTP APIs' happy paths against one real `emu35 serve` on the fixture
// model: Cog predictions (sync, async, idempotent PUT, uploads, events), the
// OpenAI images API, the web page, metrics and the OpenAPI document.
#include <gtest/gtest.h>

#include <memory>

#include "gen/task.h"
#include "image/image_read.h"
#include "image/resize.h"
#include "serve_process.h"

namespace emu35::test {
namespace {

using nlohmann::json;

class ServeApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServeProcess({"--max-batch", "4", "--max-queue", "64", "--preview-rows", "1",
                                "--preview-interval-ms", "0", "--model-name", "test/emu35-fixture"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    REQUIRE_SERVER(*server_);
  }
  static HttpClient client() { return server_->client(); }
  static ServeProcess* server_;
};
ServeProcess* ServeApi::server_ = nullptr;

Image decode_uri(const std::string& uri, const std::string& want_type = "image/png") {
  std::string type;
  auto bytes = data_uri_bytes(uri, &type);
  EXPECT_EQ(type, want_type);
  return decode_image(bytes, "output");
}

TEST_F(ServeApi, HealthCheckIsReadyAndDescribesSetup) {
  auto r = client().get("/health-check");
  ASSERT_EQ(r.status, 200);
  json j = r.json();
  EXPECT_TRUE(j["status"] == "READY" || j["status"] == "BUSY") << r.body;
  EXPECT_EQ(j["setup"]["status"], "succeeded");
  EXPECT_EQ(j["max_batch"], 4);
  auto h = client().get("/health");
  ASSERT_EQ(h.status, 200);
  EXPECT_EQ(h.json()["backend_ready"], true);
  EXPECT_EQ(h.json()["model"], "test/emu35-fixture");
}

TEST_F(ServeApi, OpenApiDescribesTheInputs) {
  auto r = client().get("/openapi.json");
  ASSERT_EQ(r.status, 200);
  json in = r.json()["components"]["schemas"]["Input"];
  for (const char* f : {"task_type", "prompt", "reference_image", "max_new_tokens", "seed", "output_format", "ratio",
                        "guidance_scale", "image_cfg_scale", "text_top_k", "image_top_p", "target_size"})
    EXPECT_TRUE(in["properties"].contains(f)) << f;
  EXPECT_EQ(in["required"], json::array({"prompt"}));
  EXPECT_EQ(in["properties"]["max_new_tokens"]["maximum"], 9216);  // the fixture model's context
  EXPECT_TRUE(r.json()["paths"].contains("/predictions/{prediction_id}/cancel"));
}

TEST_F(ServeApi, CogSynchronousPredictionReturnsThePicture) {
  auto r = client().post_json("/predictions", {{"input", tiny_input(11)}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.json();
  EXPECT_EQ(j["status"], "succeeded") << r.body;
  EXPECT_FALSE(j["id"].get<std::string>().empty());
  ASSERT_TRUE(j["output"].is_array());
  ASSERT_GE(j["output"].size(), 1u);
  Image img = decode_uri(j["output"][0]);
  EXPECT_EQ(img.width, 4 * 16);
  EXPECT_EQ(img.height, 3 * 16);
  EXPECT_GT(j["metrics"]["predict_time"].get<double>(), 0.0);
  EXPECT_EQ(j["seed"], 11);
  EXPECT_TRUE(j["created_at"].is_string());
  EXPECT_TRUE(j["started_at"].is_string());
  EXPECT_TRUE(j["completed_at"].is_string());
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_NE(j["logs"].get<std::string>().find("seed 11"), std::string::npos);
  EXPECT_EQ(j["segments"][0]["type"], "image");

  // GET returns the same prediction.
  auto g = client().get("/predictions/" + j["id"].get<std::string>());
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(g.json()["output"], j["output"]);
}

TEST_F(ServeApi, CogJpegOutputAndSameSeedSamePicture) {
  json in = tiny_input(5);
  in["output_format"] = "jpeg";
  auto a = client().post_json("/predictions", {{"input", in}}).json();
  ASSERT_EQ(a["status"], "succeeded") << a.dump();
  EXPECT_EQ(decode_uri(a["output"][0], "image/jpeg").width, 64);
  auto b = client().post_json("/predictions", {{"input", in}}).json();
  EXPECT_EQ(a["output"], b["output"]);
  in["seed"] = 6;
  auto c = client().post_json("/predictions", {{"input", in}}).json();
  EXPECT_NE(a["output"], c["output"]);
}

TEST_F(ServeApi, CogAsyncReturnsAtOnceThenGetFollowsIt) {
  auto r = client().post_json("/predictions", {{"input", tiny_input(3, "6x8", 60)}}, {{"Prefer", "respond-async"}});
  ASSERT_EQ(r.status, 202) << r.body;
  json j = r.json();
  EXPECT_TRUE(j["status"] == "starting" || j["status"] == "processing") << r.body;
  EXPECT_TRUE(j["output"].is_null());
  json done = wait_prediction(client(), j["id"]);
  EXPECT_EQ(done["status"], "succeeded") << done.dump();
  EXPECT_EQ(decode_uri(done["output"][0]).width, 128);
  EXPECT_EQ(decode_uri(done["output"][0]).height, 96);
}

TEST_F(ServeApi, CogPutIsIdempotent) {
  const std::string id = "put-test-" + std::to_string(::getpid());
  auto a = client().request("PUT", "/predictions/" + id, json{{"input", tiny_input(21)}}.dump(),
                            {{"Content-Type", "application/json"}});
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json()["id"], id);
  const double before = metric(client(), "emu35_predictions_total{status=\"succeeded\"}");
  // The same id again (even with another input) is the same prediction, not a new one.
  auto b = client().request("PUT", "/predictions/" + id, json{{"input", tiny_input(22)}}.dump(),
                            {{"Content-Type", "application/json"}});
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(b.json()["output"], a.json()["output"]);
  EXPECT_EQ(b.json()["seed"], 21);
  EXPECT_EQ(metric(client(), "emu35_predictions_total{status=\"succeeded\"}"), before);
  auto bad = client().request("PUT", "/predictions/bad%20id!", json{{"input", tiny_input(1)}}.dump(),
                              {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad.status, 422);
}

TEST_F(ServeApi, CogReferencePicturesAsDataUriAndUploadMatchInput) {
  const std::string png = read_file(fixture("images/ref_1.png"));  // 432x768, portrait
  json in = {{"task_type", "x2i"}, {"prompt", "make it blue"}, {"reference_image", {png_data_uri(png)}},
             {"image_area", 4096},  {"start_image", true},     {"seed", 4},
             {"max_new_tokens", 60}};
  auto r = client().post_json("/predictions", {{"input", in}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.json();
  ASSERT_EQ(j["status"], "succeeded") << r.body;
  // ratio defaults to match_input: the reference's grid at the request's area.
  auto [w, h] = smart_resize_size(432, 768, 4096);
  Image img = decode_uri(j["output"][0]);
  EXPECT_EQ(img.width, w);
  EXPECT_EQ(img.height, h);
  EXPECT_NE(j["input"]["reference_image"][0].get<std::string>().find("432x768"), std::string::npos);

  // The same as an uploaded file (multipart) gives the same picture.
  auto m = client().post_multipart(
      "/predictions", {{"task_type", "", "", "x2i"},
                       {"prompt", "", "", "make it blue"},
                       {"image_area", "", "", "4096"},
                       {"start_image", "", "", "true"},
                       {"seed", "", "", "4"},
                       {"max_new_tokens", "", "", "60"},
                       {"reference_image", "ref_1.png", "image/png", png}});
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(m.json()["status"], "succeeded") << m.body;
  EXPECT_EQ(m.json()["output"], j["output"]);
}

TEST_F(ServeApi, CogRatioIsWidthToHeight) {
  json in = tiny_input(8);
  in.erase("target_size");
  in["ratio"] = "16:9";
  in["max_new_tokens"] = 80;
  json j = client().post_json("/predictions", {{"input", in}}).json();
  ASSERT_EQ(j["status"], "succeeded") << j.dump();
  Image img = decode_uri(j["output"][0]);
  auto want = aspect_ratio_size("16:9", 4096);
  EXPECT_EQ(img.width, want->w * 16);
  EXPECT_EQ(img.height, want->h * 16);
  EXPECT_GT(img.width, img.height);
}

TEST_F(ServeApi, EventsStreamQueuePositionProgressPreviewAndDone) {
  auto r = client().post_json("/predictions", {{"input", tiny_input(9, "8x8", 80)}}, {{"Prefer", "respond-async"}});
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = r.json()["id"];
  SseStream s(server_->port(), "/predictions/" + id + "/events");
  ASSERT_EQ(s.status(), 200);
  int progress = 0, previews = 0, max_rows = 0, rows_total = 0;
  json done;
  while (auto ev = s.next()) {
    json d = json::parse(ev->data);
    if (ev->event == "progress") {
      ++progress;
      EXPECT_EQ(d["id"], id);
      EXPECT_TRUE(d.contains("queue_position"));
      EXPECT_TRUE(d.contains("tokens_per_second"));
      max_rows = std::max(max_rows, d["rows_done"].get<int>());
      if (d["rows_total"].get<int>() > 0) rows_total = d["rows_total"];
    } else if (ev->event == "preview") {
      ++previews;
      Image img = decode_uri(d["image"], "image/jpeg");
      EXPECT_EQ(img.width, 8 * 16);
      EXPECT_EQ(img.height, d["rows_done"].get<int>() * 16);
    } else if (ev->event == "done") {
      done = d;
      break;
    }
  }
  EXPECT_GT(progress, 1);
  EXPECT_GT(previews, 0);
  EXPECT_EQ(rows_total, 8);
  EXPECT_GT(max_rows, 0);
  EXPECT_EQ(done["status"], "succeeded");
  EXPECT_EQ(done["id"], id);
  // A finished prediction's stream says done at once.
  SseStream again(server_->port(), "/predictions/" + id + "/events");
  std::optional<SseEvent> ev;
  while ((ev = again.next()) && ev->event != "done") {
  }
  ASSERT_TRUE(ev);
  EXPECT_EQ(json::parse(ev->data)["status"], "succeeded");
  EXPECT_EQ(client().get("/predictions/nope/events").status, 404);
}

TEST_F(ServeApi, OpenAiGenerationsReturnsB64Json) {
  json body = {{"prompt", "a fox"}, {"n", 2},           {"size", "64x48"}, {"model", "anything"},
               {"seed", 100},       {"start_image", true}, {"image_area", 4096}, {"max_new_tokens", 40},
               {"quality", "high"}, {"response_format", "b64_json"}};
  auto r = client().post_json("/v1/images/generations", body);
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.json();
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["output_format"], "png");
  EXPECT_TRUE(j["created"].is_number());
  for (auto& d : j["data"]) {
    Image img = decode_image(b64_decode(d["b64_json"]), "b64_json");
    EXPECT_EQ(img.width, 64);
    EXPECT_EQ(img.height, 48);
    EXPECT_TRUE(d["url"].is_null());
  }
  // n pictures use seeds seed, seed+1: the second equals a single request with seed 101.
  body["n"] = 1;
  body["seed"] = 101;
  json single = client().post_json("/v1/images/generations", body).json();
  EXPECT_EQ(single["data"][0]["b64_json"], j["data"][1]["b64_json"]);
}

TEST_F(ServeApi, OpenAiEditsMultipartAndJson) {
  const std::string png = read_file(fixture("images/ref_0.png"));  // 768x496, landscape
  auto m = client().post_multipart("/v1/images/edits", {{"prompt", "", "", "make it blue"},
                                                        {"image_area", "", "", "4096"},
                                                        {"start_image", "", "", "true"},
                                                        {"seed", "", "", "12"},
                                                        {"max_new_tokens", "", "", "60"},
                                                        {"output_format", "", "", "webp"},
                                                        {"image[]", "ref_0.png", "image/png", png}});
  ASSERT_EQ(m.status, 200) << m.body;
  json j = m.json();
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["output_format"], "webp");
  auto [w, h] = smart_resize_size(768, 496, 4096);
  Image img = decode_image(b64_decode(j["data"][0]["b64_json"]), "edit");
  EXPECT_EQ(img.width, w);
  EXPECT_EQ(img.height, h);

  json body = {{"prompt", "make it blue"}, {"images", {{{"image_url", png_data_uri(png)}}}},
               {"image_area", 4096},       {"start_image", true},
               {"seed", 12},               {"max_new_tokens", 60}};
  auto r = client().post_json("/v1/images/edits", body);
  ASSERT_EQ(r.status, 200) << r.body;
  Image img2 = decode_image(b64_decode(r.json()["data"][0]["b64_json"]), "edit");
  EXPECT_EQ(img2.width, w);
  // Raw base64 (no data: prefix) is accepted as diffgentor does.
  body["images"] = json::array({{{"image_url", b64_encode(png)}}});
  EXPECT_EQ(client().post_json("/v1/images/edits", body).status, 200);
}

TEST_F(ServeApi, OpenAiModelsIncludingIdsWithSlashes) {
  auto l = client().get("/v1/models");
  ASSERT_EQ(l.status, 200);
  EXPECT_EQ(l.json()["object"], "list");
  EXPECT_EQ(l.json()["data"][0]["id"], "test/emu35-fixture");
  auto one = client().get("/v1/models/test/emu35-fixture");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json()["id"], "test/emu35-fixture");
  auto missing = client().get("/v1/models/other/model");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(missing.json()["error"]["message"].is_string());
  EXPECT_TRUE(missing.json()["error"]["type"].is_string());
}

TEST_F(ServeApi, WebPageIsServedFromTheBinary) {
  auto r = client().get("/");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/html"), std::string::npos);
  EXPECT_NE(r.body.find("/static/app.js"), std::string::npos);
  auto js = client().get("/static/app.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_NE(js.body.find("EventSource"), std::string::npos);
  EXPECT_EQ(client().get("/static/style.css").status, 200);
  EXPECT_EQ(client().get("/static/missing.js").status, 404);
}

TEST_F(ServeApi, MetricsInPrometheusFormat) {
  ASSERT_EQ(client().post_json("/predictions", {{"input", tiny_input(31)}}).status, 200);
  auto r = client().get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/plain"), std::string::npos);
  for (const char* name : {"# TYPE emu35_predictions_total counter", "emu35_queue_depth ", "emu35_batch_size ",
                           "emu35_tokens_per_second ", "emu35_step_seconds_bucket{le=", "emu35_step_seconds_count ",
                           "emu35_http_responses_total{code=\"200\"}"})
    EXPECT_NE(r.body.find(name), std::string::npos) << name;
  EXPECT_GE(metric(client(), "emu35_predictions_total{status=\"succeeded\"}"), 1.0);
  EXPECT_GT(metric(client(), "emu35_tokens_generated_total"), 0.0);
}

}  // namespace
}  // namespace emu35::test
