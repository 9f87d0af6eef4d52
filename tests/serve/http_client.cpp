#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace emu35::test {

namespace {
using Clock = std::chrono::steady_clock;

int connect_to(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads more bytes into buf; false at EOF, error or deadline.
bool read_some(int fd, std::string& buf, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(left)) <= 0) return false;
  char tmp[65536];
  ssize_t n = recv(fd, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf.append(tmp, static_cast<size_t>(n));
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string build_request(const std::string& host, int port, const std::string& method, const std::string& path,
                          const std::string& body, const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) + "\r\n";
  bool has_len = false;
  for (auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    has_len = has_len || lower(k) == "content-length";
  }
  if (!has_len && (!body.empty() || method == "POST" || method == "PUT"))
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "Connection: close\r\n\r\n";
  return req + body;
}

// Parses status line + headers from the front of buf; returns header length or npos.
size_t parse_head(const std::string& buf, HttpResponse& r) {
  const size_t end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return std::string::npos;
  const size_t sp = buf.find(' ');
  r.status = sp == std::string::npos ? 0 : std::atoi(buf.c_str() + sp + 1);
  size_t pos = buf.find("\r\n") + 2;
  while (pos < end) {
    const size_t eol = buf.find("\r\n", pos);
    const std::string line = buf.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(' '));
      r.headers[lower(line.substr(0, colon))] = v;
    }
    pos = eol + 2;
  }
  return end + 4;
}

// Decodes as much chunked data as is complete; returns false on a malformed stream.
bool dechunk(std::string& raw, std::string& out, bool& finished) {
  for (;;) {
    const size_t eol = raw.find("\r\n");
    if (eol == std::string::npos) return true;
    const size_t n = std::stoul(raw.substr(0, eol), nullptr, 16);
    if (n == 0) {
      finished = true;
      return true;
    }
    if (raw.size() < eol + 2 + n + 2) return true;
    out.append(raw, eol + 2, n);
    raw.erase(0, eol + 2 + n + 2);
  }
}
}  // namespace

nlohmann::json HttpResponse::json() const { return nlohmann::json::parse(body); }

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? "" : it->second;
}

HttpResponse HttpClient::request(const std::string& method, const std::string& path, const std::string& body,
                                 const std::map<std::string, std::string>& headers,
                                 std::chrono::milliseconds timeout) const {
  HttpResponse r;
  const int fd = connect_to(host_, port_);
  if (fd < 0) return r;
  const auto deadline = Clock::now() + timeout;
  if (!send_all(fd, build_request(host_, port_, method, path, body, headers))) {
    // The server may answer (413) before reading everything: still read it.
  }
  std::string buf;
  size_t head = std::string::npos;
  while ((head = parse_head(buf, r)) == std::string::npos)
    if (!read_some(fd, buf, deadline)) break;
  if (head == std::string::npos) {
    close(fd);
    r.status = 0;
    return r;
  }
  std::string rest = buf.substr(head);
  if (lower(r.header("transfer-encoding")) == "chunked") {
    bool finished = false;
    while (dechunk(rest, r.body, finished) && !finished)
      if (!read_some(fd, rest, deadline)) break;
  } else if (!r.header("content-length").empty()) {
    const size_t len = std::stoul(r.header("content-length"));
    while (rest.size() < len)
      if (!read_some(fd, rest, deadline)) break;
    r.body = rest.substr(0, len);
  } else {
    while (read_some(fd, rest, deadline)) {
    }
    r.body = rest;
  }
  close(fd);
  return r;
}

HttpResponse HttpClient::post_json(const std::string& path, const nlohmann::json& body,
                                   std::map<std::string, std::string> headers) const {
  headers["Content-Type"] = "application/json";
  return request("POST", path, body.dump(), headers);
}

std::string multipart_boundary() { return "----emu35-test-boundary-7d1f0c"; }

HttpResponse HttpClient::post_multipart(const std::string& path, const std::vector<MultipartPart>& parts,
                                        std::map<std::string, std::string> headers) const {
  const std::string b = multipart_boundary();
  std::string body;
  for (auto& p : parts) {
    body += "--" + b + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) body += "; filename=\"" + p.filename + "\"";
    body += "\r\n";
    if (!p.content_type.empty()) body += "Content-Type: " + p.content_type + "\r\n";
    body += "\r\n" + p.content + "\r\n";
  }
  body += "--" + b + "--\r\n";
  headers["Content-Type"] = "multipart/form-data; boundary=" + b;
  return request("POST", path, body, headers);
}

std::string HttpClient::raw(const std::string& bytes, std::chrono::milliseconds timeout) const {
  const int fd = connect_to(host_, port_);
  if (fd < 0) return "";
  send_all(fd, bytes);
  std::string out;
  // Until the server closes, or (once it answered) stays quiet for a moment.
  auto deadline = Clock::now() + timeout;
  while (read_some(fd, out, deadline)) deadline = std::min(deadline, Clock::now() + std::chrono::milliseconds(300));
  close(fd);
  return out;
}

int HttpClient::send_only(const std::string& method, const std::string& path, const std::string& body,
                          const std::map<std::string, std::string>& headers) const {
  const int fd = connect_to(host_, port_);
  if (fd < 0) return -1;
  send_all(fd, build_request(host_, port_, method, path, body, headers));
  return fd;
}

SseStream::SseStream(int port, const std::string& path, const std::map<std::string, std::string>& headers) {
  fd_ = connect_to("127.0.0.1", port);
  if (fd_ < 0) return;
  std::map<std::string, std::string> h = headers;
  h["Accept"] = "text/event-stream";
  send_all(fd_, build_request("127.0.0.1", port, "GET", path, "", h));
  HttpResponse r;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  size_t head = std::string::npos;
  while ((head = parse_head(raw_, r)) == std::string::npos)
    if (!read_some(fd_, raw_, deadline)) return;
  status_ = r.status;
  chunked_ = lower(r.header("transfer-encoding")) == "chunked";
  raw_.erase(0, head);
  if (chunked_) {
    bool finished = false;
    dechunk(raw_, text_, finished);
    eof_ = finished;
  } else {
    text_ = raw_;
    raw_.clear();
  }
}

SseStream::~SseStream() {
  if (fd_ >= 0) close(fd_);
}

bool SseStream::fill(Clock::time_point deadline) {
  if (eof_) return false;
  if (!read_some(fd_, raw_, deadline)) {
    eof_ = true;
    return false;
  }
  if (chunked_) {
    bool finished = false;
    dechunk(raw_, text_, finished);
    if (finished) eof_ = true;
  } else {
    text_ += raw_;
    raw_.clear();
  }
  return true;
}

std::optional<SseEvent> SseStream::next(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const size_t end = text_.find("\n\n");
    if (end != std::string::npos) {
      const std::string block = text_.substr(0, end);
      text_.erase(0, end + 2);
      SseEvent ev;
      size_t pos = 0;
      while (pos <= block.size()) {
        size_t eol = block.find('\n', pos);
        if (eol == std::string::npos) eol = block.size();
        const std::string line = block.substr(pos, eol - pos);
        if (line.rfind("event: ", 0) == 0) ev.event = line.substr(7);
        else if (line.rfind("data: ", 0) == 0) ev.data += line.substr(6);
        pos = eol + 1;
      }
      if (ev.event.empty() && ev.data.empty()) continue;  // comments, retry:
      return ev;
    }
    if (!fill(deadline) && text_.find("\n\n") == std::string::npos) return std::nullopt;
  }
}

}  // namespace emu35::test
