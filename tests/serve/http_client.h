// A small HTTP/1.1 client over raw loopback sockets, for talking to a real
// `emu35 serve`: plain requests, multipart bodies, server-sent events, and
// the misbehaviour a client library would not let us send (hang-ups,
// malformed requests).
#pragma once
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace emu35::test {

struct HttpResponse {
  int status = 0;  // 0: no answer (connection failed or closed)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json() const;  // parsed body (throws on invalid JSON)
  std::string header(const std::string& name) const;
};

struct MultipartPart {
  std::string name, filename, content_type, content;
};

class HttpClient {
 public:
  explicit HttpClient(int port, std::string host = "127.0.0.1") : host_(std::move(host)), port_(port) {}

  HttpResponse request(const std::string& method, const std::string& path, const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  HttpResponse get(const std::string& path, const std::map<std::string, std::string>& headers = {}) const {
    return request("GET", path, "", headers);
  }
  HttpResponse post_json(const std::string& path, const nlohmann::json& body,
                         std::map<std::string, std::string> headers = {}) const;
  HttpResponse post_multipart(const std::string& path, const std::vector<MultipartPart>& parts,
                              std::map<std::string, std::string> headers = {}) const;
  // Sends raw bytes as they are and returns what comes back (until the server
  // closes, goes quiet for 0.3 s after answering, or the timeout passes).
  std::string raw(const std::string& bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Connects, sends a request and returns the open socket without reading
  // (the caller closes it to simulate a client that hangs up).
  int send_only(const std::string& method, const std::string& path, const std::string& body,
                const std::map<std::string, std::string>& headers = {}) const;

  int port() const { return port_; }

 private:
  std::string host_;
  int port_;
};

// One server-sent event.
struct SseEvent {
  std::string event, data;
};

// Follows an event stream: next() returns the next event, or nullopt when the
// stream ends or the timeout passes.
class SseStream {
 public:
  SseStream(int port, const std::string& path, const std::map<std::string, std::string>& headers = {});
  ~SseStream();
  SseStream(const SseStream&) = delete;
  SseStream& operator=(const SseStream&) = delete;
  int status() const { return status_; }
  std::optional<SseEvent> next(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1, status_ = 0;
  bool chunked_ = false, eof_ = false;
  std::string raw_;     // undecoded bytes from the socket
  std::string text_;    // decoded body bytes not yet parsed into events
};

std::string multipart_boundary();

}  // namespace emu35::test
