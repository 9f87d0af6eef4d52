// Helpers shared by every test binary: where the fixtures are, temp dirs, file reading.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace emu35::test {

// ../shared/fixtures/reference (or $EMU35_FIXTURES). Fails the test run loudly
// (abort with a message) when the folder is missing: parity tests must not skip.
const std::filesystem::path& fixtures_dir();
std::filesystem::path fixture(const std::string& rel);

// The emu35 binary built beside the tests (for CLI tests).
std::filesystem::path emu35_binary();

// A fresh, empty directory under the build tree, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "t");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& bytes);

// Runs a shell command, returns its exit status; stdout (and stderr when
// merge_stderr) captured into *out when given.
int run_command(const std::string& cmd, std::string* out = nullptr, bool merge_stderr = true);

// max |a-b| / max |ref|, the parity measure the fixtures README uses.
double rel_max_error(const float* got, const float* ref, size_t n);

}  // namespace emu35::test
