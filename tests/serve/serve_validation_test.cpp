// Bad requests get 400/401/413/422 with the field named, and never hurt the
// server: malformed JSON, wrong types, unknown fields, out-of-range numbers,
// bad enums, budgets beyond the context, bad or oversized pictures, huge
// bodies, garbage HTTP, missing or wrong API keys.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "image/image.h"
#include "image/resize.h"
#include "image/image_read.h"
#include "image/image_write.h"
#include "serve_process.h"

namespace emu35::test {
namespace {

using nlohmann::json;

class ServeValidation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServeProcess({"--max-body-mb", "1", "--max-images", "2", "--max-image-pixels", "300000"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    REQUIRE_SERVER(*server_);
  }
  void TearDown() override {
    if (server_->started()) {
      EXPECT_TRUE(server_->alive()) << server_->log();
    }
  }
  static HttpClient client() { return server_->client(); }

  // POSTs {"input": input}; expects `status` and a message naming `field`.
  static void expect_cog_error(const json& input, int status, const std::string& field) {
    auto r = client().post_json("/predictions", {{"input", input}});
    EXPECT_EQ(r.status, status) << input.dump().substr(0, 300) << " -> " << r.body.substr(0, 300);
    ASSERT_FALSE(r.body.empty());
    json j = r.json();
    const std::string msg = j["detail"].is_array() ? j["detail"][0]["msg"].get<std::string>() : j["detail"].get<std::string>();
    EXPECT_NE(msg.find(field), std::string::npos) << "message does not name " << field << ": " << msg;
    if (status == 422) {
      EXPECT_EQ(j["detail"][0]["loc"].back(), field) << r.body;
    }
  }
  static ServeProcess* server_;
};
ServeProcess* ServeValidation::server_ = nullptr;

std::string png_of(int w, int h) {
  Image img = Image::blank(w, h);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = static_cast<uint8_t>(i * 7);
  return encode_png(img);
}

TEST_F(ServeValidation, MalformedJsonIs400) {
  auto r = client().request("POST", "/predictions", "{\"input\": {\"prompt\": ", {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.json()["detail"].get<std::string>().find("JSON"), std::string::npos);
  auto o = client().request("POST", "/v1/images/generations", "not json", {{"Content-Type", "application/json"}});
  EXPECT_EQ(o.status, 400);
  EXPECT_TRUE(o.json()["error"]["message"].is_string());
  EXPECT_EQ(o.json()["error"]["type"], "invalid_request_error");
  // Not UTF-8: the JSON parser refuses it; as a multipart field it is named.
  auto u = client().request("POST", "/predictions", "{\"input\": {\"prompt\": \"\xff\xfe\"}}",
                            {{"Content-Type", "application/json"}});
  EXPECT_EQ(u.status, 400);
  auto m = client().post_multipart("/predictions", {{"prompt", "", "", "bad \xff\xfe text"}});
  EXPECT_EQ(m.status, 422);
  EXPECT_NE(m.body.find("prompt"), std::string::npos) << m.body;
}

TEST_F(ServeValidation, BodyShapeErrors) {
  EXPECT_EQ(client().post_json("/predictions", json::array({1, 2})).status, 422);
  EXPECT_EQ(client().post_json("/predictions", {{"inputs", tiny_input(1)}}).status, 422);
  EXPECT_EQ(client().post_json("/predictions", json::object()).status, 422);
  auto w = client().post_json("/predictions", {{"input", tiny_input(1)}, {"webhook", "http://example.invalid/x"}});
  EXPECT_EQ(w.status, 422);
  EXPECT_NE(w.body.find("webhook"), std::string::npos);
}

TEST_F(ServeValidation, WrongTypesNameTheField) {
  json in = tiny_input(1);
  in["seed"] = "abc";
  expect_cog_error(in, 422, "seed");
  in = tiny_input(1);
  in["prompt"] = 42;
  expect_cog_error(in, 422, "prompt");
  in = tiny_input(1);
  in["start_image"] = "yes";
  expect_cog_error(in, 422, "start_image");
  in = tiny_input(1);
  in["guidance_scale"] = json::array({1});
  expect_cog_error(in, 422, "guidance_scale");
  in = tiny_input(1);
  in["max_new_tokens"] = 10.5;
  expect_cog_error(in, 422, "max_new_tokens");
}

TEST_F(ServeValidation, UnknownFieldsAreRefused) {
  json in = tiny_input(1);
  in["temperature_typo"] = 1.0;
  expect_cog_error(in, 422, "temperature_typo");
  auto o = client().post_json("/v1/images/generations", {{"prompt", "x"}, {"colour", "red"}});
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.json()["error"]["param"], "colour");
}

TEST_F(ServeValidation, EnumsAndRanges) {
  json in = tiny_input(1);
  in["task_type"] = "paint";
  expect_cog_error(in, 422, "task_type");
  in = tiny_input(1);
  in["output_format"] = "gif";
  expect_cog_error(in, 422, "output_format");
  in = tiny_input(1);
  in["ratio"] = "5:7";
  expect_cog_error(in, 422, "ratio");
  in = tiny_input(1);
  in["max_new_tokens"] = 0;
  expect_cog_error(in, 422, "max_new_tokens");
  in = tiny_input(1);
  in["seed"] = -1;
  expect_cog_error(in, 422, "seed");
  in = tiny_input(1);
  in["text_top_p"] = 1.5;
  expect_cog_error(in, 422, "text_top_p");
  in = tiny_input(1);
  in["image_temperature"] = 0;
  expect_cog_error(in, 422, "image_temperature");
  in = tiny_input(1);
  in["image_top_k"] = 0;
  expect_cog_error(in, 422, "image_top_k");
  in = tiny_input(1);
  in["guidance_scale"] = -2;
  expect_cog_error(in, 422, "guidance_scale");
  in = tiny_input(1);
  in["target_size"] = "3by4";
  expect_cog_error(in, 422, "target_size");
  in = tiny_input(1);
  in["prompt"] = "   ";
  expect_cog_error(in, 422, "prompt");
  in = tiny_input(1);
  in.erase("prompt");
  expect_cog_error(in, 422, "prompt");
  in = tiny_input(1);
  in["task_type"] = "x2i";
  expect_cog_error(in, 422, "reference_image");
  in = tiny_input(1);
  in["max_new_tokens"] = 5;  // the 3x4 picture needs 20
  expect_cog_error(in, 422, "max_new_tokens");
  auto o = client().post_json("/v1/images/generations", {{"prompt", "x"}, {"n", 50}});
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.json()["error"]["param"], "n");
  o = client().post_json("/v1/images/generations", {{"prompt", "x"}, {"size", "huge"}});
  EXPECT_EQ(o.json()["error"]["param"], "size");
  o = client().post_json("/v1/images/generations", {{"prompt", "x"}, {"response_format", "url"}});
  EXPECT_EQ(o.json()["error"]["param"], "response_format");
  o = client().post_json("/v1/images/generations", {{"n", 1}});
  EXPECT_EQ(o.json()["error"]["param"], "prompt");
}

TEST_F(ServeValidation, TokenBudgetAgainstTheContext) {
  json in = tiny_input(1);
  in["max_new_tokens"] = 9216;  // the whole context, before the prompt
  expect_cog_error(in, 422, "max_new_tokens");
  in["max_new_tokens"] = 9217;
  expect_cog_error(in, 422, "max_new_tokens");
  in = tiny_input(1);
  in["task_type"] = "story";  // default budget 32768 > the fixture's 9216
  in.erase("max_new_tokens");
  expect_cog_error(in, 422, "max_new_tokens");
}

TEST_F(ServeValidation, BadPictures) {
  json in = tiny_input(1);
  in["task_type"] = "x2i";
  in["reference_image"] = {"data:image/png;base64,AAAA"};
  expect_cog_error(in, 422, "reference_image[0]");
  in["reference_image"] = {"data:image/png;base64,%%%"};
  expect_cog_error(in, 422, "reference_image[0]");
  in["reference_image"] = {"not a uri"};
  expect_cog_error(in, 422, "reference_image[0]");
  in["reference_image"] = {"https://example.invalid/cat.png"};  // no outbound network
  expect_cog_error(in, 422, "reference_image[0]");
  const std::string big = png_data_uri(png_of(600, 600));  // 360000 > --max-image-pixels 300000
  in["reference_image"] = {big};
  expect_cog_error(in, 422, "reference_image[0]");
  const std::string ok = png_data_uri(png_of(40, 30));
  in["reference_image"] = {ok, ok, ok};  // --max-images 2
  expect_cog_error(in, 422, "reference_image");
  // Uploads: a file that is no picture.
  auto m = client().post_multipart("/predictions", {{"task_type", "", "", "x2i"},
                                                    {"prompt", "", "", "p"},
                                                    {"reference_image", "x.png", "image/png", "GIF89a nonsense"}});
  EXPECT_EQ(m.status, 422);
  EXPECT_NE(m.body.find("reference_image[0]"), std::string::npos) << m.body;
  auto e = client().post_multipart("/v1/images/edits", {{"prompt", "", "", "p"}, {"image", "x.png", "image/png", "junk"}});
  EXPECT_EQ(e.status, 400);
  auto none = client().post_multipart("/v1/images/edits", {{"prompt", "", "", "p"}});
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.json()["error"]["param"], "image");
}

TEST_F(ServeValidation, HugeBodiesAre413) {
  std::string body = "{\"input\": {\"prompt\": \"" + std::string(2 << 20, 'a') + "\"}}";
  auto r = client().request("POST", "/predictions", body, {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 413);
  auto o = client().request("POST", "/v1/images/generations", body, {{"Content-Type", "application/json"}});
  EXPECT_EQ(o.status, 413);
}

TEST_F(ServeValidation, GarbageHttpAndUnknownRoutes) {
  const std::string a = client().raw("THIS IS NOT HTTP\r\n\r\n", std::chrono::seconds(5));
  EXPECT_NE(a.find("400"), std::string::npos) << a;
  const std::string b = client().raw(std::string(70000, 'G') + "\r\n\r\n", std::chrono::seconds(5));
  EXPECT_TRUE(b.empty() || b.find("HTTP/1.1 4") != std::string::npos) << b.substr(0, 100);
  EXPECT_EQ(client().get("/nope").status, 404);
  EXPECT_EQ(client().get("/predictions/unknown-id").status, 404);
  EXPECT_EQ(client().request("POST", "/predictions/unknown-id/cancel").status, 404);
  // Still serving.
  EXPECT_EQ(client().post_json("/predictions", {{"input", tiny_input(2)}}).json()["status"], "succeeded");
}

TEST(ServeAuth, ApiKeyGuardsEveryRouteButHealth) {
  ServeProcess server({"--api-key", "s3cret-key"});
  REQUIRE_SERVER(server);
  HttpClient c = server.client();
  EXPECT_EQ(c.get("/health-check").status, 200);
  EXPECT_EQ(c.get("/health").status, 200);
  for (const char* path : {"/", "/openapi.json", "/metrics", "/v1/models", "/predictions/x"}) {
    auto r = c.get(path);
    EXPECT_EQ(r.status, 401) << path;
  }
  auto p = c.post_json("/predictions", {{"input", tiny_input(1)}});
  EXPECT_EQ(p.status, 401);
  EXPECT_TRUE(p.json().contains("detail"));
  EXPECT_EQ(c.get("/").header("www-authenticate").rfind("Basic", 0), 0u);
  auto o = c.post_json("/v1/images/generations", {{"prompt", "x"}});
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.json()["error"]["type"], "authentication_error");
  EXPECT_EQ(c.get("/v1/models", {{"Authorization", "Bearer wrong-key!"}}).status, 401);
  EXPECT_EQ(c.get("/v1/models", {{"Authorization", "Bearer s3cret-ke"}}).status, 401);
  EXPECT_EQ(c.get("/v1/models", {{"Authorization", "Bearer s3cret-key"}}).status, 200);
  // A browser after its login prompt: Basic with the key as password.
  EXPECT_EQ(c.get("/", {{"Authorization", "Basic " + b64_encode("user:s3cret-key")}}).status, 200);
  auto ok = c.post_json("/predictions", {{"input", tiny_input(1)}}, {{"Authorization", "Bearer s3cret-key"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.json()["status"], "succeeded");
}

// A one-request web server on loopback that hands out a file.
class OneShotFileServer {
 public:
  explicit OneShotFileServer(std::string body) : body_(std::move(body)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 1);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      (void)!recv(c, buf, sizeof buf, 0);
      const std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: " +
                               std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
      (void)!send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      close(c);
    });
  }
  ~OneShotFileServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::string body_;
  int fd_ = -1, port_ = 0;
  std::thread thread_;
};

TEST(ServeUrlImages, FetchedOnlyWhenAllowed) {
  ServeProcess server({"--allow-url-images"});
  REQUIRE_SERVER(server);
  auto files = std::make_unique<OneShotFileServer>(read_file(fixture("images/ref_1.png")));
  json in = tiny_input(3);
  in.erase("target_size");
  in["task_type"] = "x2i";
  in["max_new_tokens"] = 60;
  in["reference_image"] = "http://127.0.0.1:" + std::to_string(files->port()) + "/ref_1.png";
  auto r = server.client().post_json("/predictions", {{"input", in}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.json();
  ASSERT_EQ(j["status"], "succeeded") << r.body;
  auto [w, h] = smart_resize_size(432, 768, 4096);  // match_input: the fetched picture's shape
  std::string type;
  Image img = decode_image(data_uri_bytes(j["output"][0], &type), "output");
  EXPECT_EQ(img.width, w);
  EXPECT_EQ(img.height, h);
  // Nothing listens there any more: a clear 422.
  files.reset();
  auto gone = server.client().post_json("/predictions", {{"input", in}});
  EXPECT_EQ(gone.status, 422);
  EXPECT_NE(gone.body.find("reference_image[0]"), std::string::npos) << gone.body;
}

}  // namespace
}  // namespace emu35::test
