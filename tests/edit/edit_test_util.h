// Helpers for the `emu35 edit` command-line tests: the fixture model's
// command line, CSV reading, background runs that can be killed.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace emu35::test::edit {

// "env -u ... DG_EMU35_VQ_PATH=... " plus small budgets: a prefix for shell
// commands that keeps the caller's Slurm/Kubernetes/DG variables out.
std::string clean_env(const std::string& extra_env = "");
// The small-budget environment every generating test uses.
std::string fixture_env(const std::string& extra_env = "");
// "<binary> edit --model_name <fixture model> --input IN --output_dir OUT --start_image --device cpu --quiet"
std::string edit_cmd(const std::filesystem::path& input, const std::filesystem::path& out, const std::string& extra = "");

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string column(size_t row, const std::string& name) const;
};
// Parses a CSV file written by edit; fails the test on a malformed line.
Table read_table(const std::filesystem::path& p);

// Every file under dir (recursive), relative names.
std::vector<std::string> files_under(const std::filesystem::path& dir);

// A shell command started in the background (its own process, stdout and
// stderr to `log`); the pid is the shell's exec'd program.
class Background {
 public:
  Background(const std::string& cmd, const std::filesystem::path& log);
  ~Background();
  int pid() const { return pid_; }
  void signal(int sig);
  int wait();  // exit code, or 128 + signal

 private:
  int pid_ = -1;
  bool reaped_ = false;
};

// Waits until pred() holds, up to `seconds`; returns whether it did.
bool wait_for(const std::function<bool()>& pred, double seconds);

}  // namespace emu35::test::edit
