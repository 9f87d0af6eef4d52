#include "serve_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

namespace emu35::test {

namespace {
using Clock = std::chrono::steady_clock;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

ServeProcess::ServeProcess(std::vector<std::string> extra, bool wait) {
  std::vector<std::string> args = {emu35_binary().string(), "serve", "--model", fixture("model").string(),
                                   "--port", "0", "--threads", "2"};
  if (std::find(extra.begin(), extra.end(), "--vq") == extra.end()) {
    args.push_back("--vq");
    args.push_back(fixture("vq").string());
  }
  args.insert(args.end(), extra.begin(), extra.end());
  const std::string out = (dir_ / "stdout.txt").string(), err = (dir_ / "stderr.txt").string();
  pid_ = fork();
  if (pid_ == 0) {
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    const std::string s = slurp(out);
    const size_t at = s.find("listening on http://127.0.0.1:");
    if (at != std::string::npos && s.find('\n', at) != std::string::npos) {
      port_ = std::atoi(s.c_str() + at + std::string("listening on http://127.0.0.1:").size());
      break;
    }
    if (!alive()) {
      why_not_ = slurp(err);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (port_ > 0 && wait && !wait_ready()) why_not_ = "never became READY: " + log();
}

ServeProcess::~ServeProcess() { stop(); }

bool ServeProcess::alive() {
  if (pid_ <= 0) return false;
  int st = 0;
  if (waitpid(pid_, &st, WNOHANG) != pid_) return true;
  exit_status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  pid_ = -1;
  return false;
}

bool ServeProcess::wait_ready(std::chrono::seconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto r = client().get("/health-check");
    if (r.status == 200) {
      const std::string s = r.json().value("status", "");
      if (s == "READY" || s == "BUSY") return true;
      if (s == "SETUP_FAILED") return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

long ServeProcess::rss_kb() const {
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

std::string ServeProcess::log() const { return slurp(dir_ / "stderr.txt"); }

int ServeProcess::stop() {
  if (pid_ <= 0) return exit_status_;
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  int st = 0;
  while (Clock::now() < deadline) {
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &st, 0);
  pid_ = -1;
  return -1;
}

nlohmann::json tiny_input(uint64_t seed, const std::string& size, int max_new_tokens) {
  return {{"prompt", "a small red fox"}, {"start_image", true}, {"target_size", size},
          {"image_area", 4096},         {"seed", seed},        {"max_new_tokens", max_new_tokens}};
}

std::vector<uint8_t> b64_decode(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const int v = val(c);
    if (v < 0) continue;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string b64_encode(const std::string& in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += {a[v >> 18], a[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8;
    out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], '='};
  }
  return out;
}

std::vector<uint8_t> data_uri_bytes(const std::string& uri, std::string* media_type) {
  const size_t comma = uri.find(',');
  if (uri.rfind("data:", 0) != 0 || comma == std::string::npos) return {};
  if (media_type) *media_type = uri.substr(5, uri.find(';') - 5);
  return b64_decode(uri.substr(comma + 1));
}

std::string png_data_uri(const std::string& png) { return "data:image/png;base64," + b64_encode(png); }

nlohmann::json wait_prediction(const HttpClient& c, const std::string& id, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  nlohmann::json j;
  while (Clock::now() < deadline) {
    auto r = c.get("/predictions/" + id);
    if (r.status != 200) return {{"http_status", r.status}, {"body", r.body}};
    j = r.json();
    const std::string s = j["status"];
    if (s == "succeeded" || s == "failed" || s == "canceled") return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return j;
}

double metric(const HttpClient& c, const std::string& series) {
  auto r = c.get("/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

}  // namespace emu35::test
