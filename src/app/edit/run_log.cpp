#include "app/edit/run_log.h"

#include <ctime>

#include "common/error.h"

namespace emu35::app::edit {

RunLog::~RunLog() {
  if (file_) std::fclose(file_);
}

void RunLog::open(const std::filesystem::path& file, int rank) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  FILE* f = std::fopen(file.c_str(), "a");
  if (!f) throw Error(file.string() + ": cannot open the log file");
  if (file_) std::fclose(file_);
  file_ = f;
  path_ = file;
  rank_ = rank;
}

void RunLog::emit(const char* level, const std::string& msg, bool to_terminal, FILE* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_) {
    std::time_t t = std::time(nullptr);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
    std::fprintf(file_, "%s - [Rank %d] - emu35.edit - %s - %s\n", ts, rank_, level, msg.c_str());
    std::fflush(file_);
  }
  if (to_terminal) {
    if (before_print_) before_print_();
    std::fprintf(stream, "%s\n", msg.c_str());
    std::fflush(stream);
    if (after_print_) after_print_();
  }
}

void RunLog::info(const std::string& msg) { emit("INFO", msg, terminal_, stdout); }
void RunLog::warn(const std::string& msg) { emit("WARNING", msg, terminal_, stderr); }
void RunLog::error(const std::string& msg) { emit("ERROR", msg, true, stderr); }

std::string log_timestamp_folder() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d_%H%M", std::localtime(&t));
  return buf;
}

}  // namespace emu35::app::edit
