#include "test_support.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace emu35::test {

const fs::path& fixtures_dir() {
  static const fs::path dir = [] {
    const char* env = std::getenv("EMU35_FIXTURES");
    fs::path p = env && *env ? fs::path(env) : fs::path(EMU35_FIXTURES_DEFAULT);
    if (!fs::is_directory(p) || !fs::exists(p / "cases.json")) {
      std::cerr << "\nFATAL: reference fixtures not found at " << p
                << "\n  (expected ../shared/fixtures/reference beside the project, or set EMU35_FIXTURES)\n";
      std::abort();
    }
    return fs::canonical(p);
  }();
  return dir;
}

fs::path fixture(const std::string& rel) { return fixtures_dir() / rel; }

fs::path emu35_binary() {
  const char* env = std::getenv("EMU35_BIN");
  if (env && *env) return env;
  return fs::path(EMU35_BINARY_DIR) / "emu35";
}

TempDir::TempDir(const std::string& tag) {
  static std::atomic<int> counter{0};
  fs::path base = fs::path(EMU35_BINARY_DIR) / "test-tmp";
  fs::create_directories(base);
  path_ = base / (tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!std::getenv("EMU35_KEEP_TMP")) fs::remove_all(path_, ec);
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot write " + p.string());
  f << bytes;
}

int run_command(const std::string& cmd, std::string* out, bool merge_stderr) {
  std::string full = cmd + (merge_stderr ? " 2>&1" : "");
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    if (out) out->append(buf, n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

double rel_max_error(const float* got, const float* ref, size_t n) {
  double max_ref = 0, max_err = 0;
  for (size_t i = 0; i < n; ++i) {
    max_ref = std::max(max_ref, (double)std::fabs(ref[i]));
    double e = std::fabs((double)got[i] - (double)ref[i]);
    if (!(e <= max_err)) max_err = std::isnan(e) ? INFINITY : std::max(max_err, e);
  }
  return max_ref > 0 ? max_err / max_ref : max_err;
}

}  // namespace emu35::test
