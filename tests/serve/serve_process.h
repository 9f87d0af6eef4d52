// Runs the real `emu35 serve` binary on the fixture model, on a free loopback
// port, for the HTTP tests; stops it (SIGTERM, then SIGKILL) when done.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http_client.h"
#include "test_support.h"

namespace emu35::test {

class ServeProcess {
 public:
  // extra: flags after the model ones (a --vq there replaces the fixture's).
  // wait_ready: until /health-check says READY.
  explicit ServeProcess(std::vector<std::string> extra = {}, bool wait_ready = true);
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  bool started() const { return port_ > 0; }
  // True when the binary was built without the HTTP server (tests skip;
  // any other failure to start fails them).
  bool unavailable() const { return why_not_.find("built without the HTTP server") != std::string::npos; }
  const std::string& why_not() const { return why_not_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  HttpClient client() const { return HttpClient(port_); }
  bool alive();
  bool wait_ready(std::chrono::seconds timeout = std::chrono::seconds(60)) const;
  long rss_kb() const;       // VmRSS of the server
  std::string log() const;   // its stderr so far
  // SIGTERM and wait; returns the exit status (or -1 when it had to be killed).
  int stop();

 private:
  TempDir dir_{"serve"};
  pid_t pid_ = -1;
  int exit_status_ = -1;  // once reaped
  int port_ = 0;
  std::string why_not_;
};

// The smallest useful t2i input on the fixture model: a rows x cols-token
// picture (16 px a token) drawn from the first step.
nlohmann::json tiny_input(uint64_t seed, const std::string& size = "3x4", int max_new_tokens = 40);

std::vector<uint8_t> b64_decode(const std::string& s);
std::string b64_encode(const std::string& bytes);
// The bytes of a data: URI (after the comma), and its media type.
std::vector<uint8_t> data_uri_bytes(const std::string& uri, std::string* media_type = nullptr);
std::string png_data_uri(const std::string& png_bytes);

// Polls GET /predictions/{id} until it is finished (or the timeout passes).
nlohmann::json wait_prediction(const HttpClient& c, const std::string& id,
                               std::chrono::seconds timeout = std::chrono::seconds(60));
// In a TEST: skip when the HTTP server is not built in, fail when it did not start.
#define REQUIRE_SERVER(s)                                                        \
  do {                                                                           \
    if (!(s).started()) {                                                        \
      if ((s).unavailable()) GTEST_SKIP() << "emu35 serve is not built in";      \
      FAIL() << "emu35 serve did not start: " << (s).why_not();                  \
    }                                                                            \
  } while (0)

// One value from /metrics (the first line starting with `series `), or -1.
double metric(const HttpClient& c, const std::string& series);

}  // namespace emu35::test
