// Log lines of an edit process: to the terminal (stdout, only where this
// process talks to the terminal; errors always reach stderr) and to its log
// file as "YYYY-mm-dd HH:MM:SS - [Rank r] - emu35.edit - LEVEL - msg"
// (diffgentor's format). A hook clears the progress bar before a line prints.
#pragma once
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>

namespace emu35::app::edit {

class RunLog {
 public:
  RunLog() = default;
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  // Appends to the file (folders created). rank goes into every file line.
  void open(const std::filesystem::path& file, int rank);
  void set_terminal(bool on) { terminal_ = on; }
  void set_before_print(std::function<void()> f) { before_print_ = std::move(f); }
  void set_after_print(std::function<void()> f) { after_print_ = std::move(f); }

  void info(const std::string& msg);
  void warn(const std::string& msg);   // terminal: stderr
  void error(const std::string& msg);  // terminal: stderr, even when not the terminal process
  void record(const char* level, const std::string& msg) { emit(level, msg, false, stderr); }  // file only
  const std::filesystem::path& file() const { return path_; }

 private:
  void emit(const char* level, const std::string& msg, bool to_terminal, FILE* stream);
  std::filesystem::path path_;
  FILE* file_ = nullptr;
  int rank_ = 0;
  bool terminal_ = true;
  std::function<void()> before_print_, after_print_;
  std::mutex mu_;
};

// "20260220_1034": the default log folder name (<output_dir>/logs/<this>).
std::string log_timestamp_folder();

}  // namespace emu35::app::edit
