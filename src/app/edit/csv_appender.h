// results.csv / failures.csv: rows are appended, never rewritten. Each row is
// one write() of a whole line on an O_APPEND descriptor followed by fsync, so
// a crash can lose at most the row being written, never corrupt earlier ones;
// the header is written only when the file is new (or empty).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace emu35::app::edit {

class CsvAppender {
 public:
  CsvAppender() = default;
  ~CsvAppender();
  CsvAppender(const CsvAppender&) = delete;
  CsvAppender& operator=(const CsvAppender&) = delete;

  // Opens (creating folders); an existing file must start with the same header
  // (Error otherwise: appending other columns would make a file no reader can use).
  void open(const std::filesystem::path& path, const std::vector<std::string>& header);
  void append(const std::vector<std::string>& fields);
  const std::filesystem::path& path() const { return path_; }
  bool is_open() const { return fd_ >= 0; }

 private:
  std::filesystem::path path_;
  size_t columns_ = 0;
  int fd_ = -1;
};

// Checks without opening: the file is absent, empty, or has this header.
void check_csv_header(const std::filesystem::path& path, const std::vector<std::string>& header);

}  // namespace emu35::app::edit
