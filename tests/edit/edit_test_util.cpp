#include "edit_test_util.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "app/edit/csv.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace emu35::test::edit {

std::string clean_env(const std::string& extra_env) {
  std::string s = "env";
  for (const char* v : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX",
                        "JOB_COMPLETIONS", "CUDA_VISIBLE_DEVICES", "DG_EMU35_VQ_PATH", "DG_EMU35_TOKENIZER_PATH",
                        "DG_EMU35_CFG", "DG_EMU35_MAX_NEW_TOKENS", "DG_EMU35_IMAGE_AREA", "DG_EMU35_HF_DEVICE",
                        "DG_EMU35_VQ_DEVICE", "DG_EMU35_VQ_TYPE", "DG_EMU35_GPUS_PER_MODEL"})
    s += std::string(" -u ") + v;
  return s + " " + extra_env + " ";
}

std::string fixture_env(const std::string& extra_env) {
  return clean_env("DG_EMU35_VQ_PATH=" + fixture("vq").string() +
                   " DG_EMU35_IMAGE_AREA=1024 DG_EMU35_MAX_NEW_TOKENS=24 " + extra_env);
}

std::string edit_cmd(const fs::path& input, const fs::path& out, const std::string& extra) {
  return emu35_binary().string() + " edit --model_name " + fixture("model").string() + " --input " + input.string() +
         " --output_dir " + out.string() + " --start_image --device cpu --quiet " + extra;
}

std::string Table::column(size_t row, const std::string& name) const {
  for (size_t c = 0; c < header.size(); ++c)
    if (header[c] == name) return row < rows.size() && c < rows[row].size() ? rows[row][c] : "";
  ADD_FAILURE() << "no column " << name;
  return "";
}

Table read_table(const fs::path& p) {
  Table t;
  auto recs = app::edit::parse_csv(read_file(p));
  EXPECT_FALSE(recs.empty()) << p;
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].error, "") << p << " record " << i;
    if (i == 0) {
      t.header = recs[i].fields;
    } else {
      EXPECT_EQ(recs[i].fields.size(), t.header.size()) << p << " record " << i;
      t.rows.push_back(recs[i].fields);
    }
  }
  return t;
}

std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file()) out.push_back(fs::relative(it->path(), dir).string());
  return out;
}

Background::Background(const std::string& cmd, const fs::path& log) {
  const std::string full = "exec " + cmd + " >" + log.string() + " 2>&1";
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execl("/bin/sh", "sh", "-c", full.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
}

Background::~Background() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void Background::signal(int sig) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

int Background::wait() {
  int st = 0;
  ::waitpid(pid_, &st, 0);
  reaped_ = true;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool wait_for(const std::function<bool()>& pred, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

}  // namespace emu35::test::edit
