#include "app/edit/csv_appender.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include "app/edit/csv.h"
#include "common/error.h"

namespace emu35::app::edit {

namespace {
void write_all(int fd, const std::string& s, const std::filesystem::path& p) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(p.string() + ": write failed: " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) throw Error(p.string() + ": cannot flush to disk: " + std::strerror(errno));
}

// The first record of an existing file, "" when absent or empty.
std::string first_line(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return "";
  // Headers are one physical line (column names hold no newlines in practice);
  // compare the raw line with what csv_line would write.
  std::string l;
  std::getline(f, l);
  return l;
}
}  // namespace

void check_csv_header(const std::filesystem::path& path, const std::vector<std::string>& header) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) || std::filesystem::file_size(path, ec) == 0) return;
  std::string want = csv_line(header);
  want.pop_back();
  const std::string have = first_line(path);
  if (have != want)
    throw Error(path.string() + ": already holds a table with other columns (\"" + have.substr(0, 200) +
                "\"); new rows would not fit it: choose another --output_csv or move the file away");
}

CsvAppender::~CsvAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void CsvAppender::open(const std::filesystem::path& path, const std::vector<std::string>& header) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  path_ = path;
  columns_ = header.size();
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  check_csv_header(path, header);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path.string() + ": cannot open for appending: " + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd_, &st) == 0 && st.st_size == 0) {
    write_all(fd_, csv_line(header), path);
  } else if (st.st_size > 0) {
    // A line cut short by a crash (should one ever be) must not swallow the next row.
    char last = '\n';
    if (::pread(fd_, &last, 1, st.st_size - 1) == 1 && last != '\n') write_all(fd_, "\n", path);
  }
}

void CsvAppender::append(const std::vector<std::string>& fields) {
  if (fd_ < 0) throw Error("internal: CSV table not open");
  if (fields.size() != columns_) throw Error(path_.string() + ": internal: row has the wrong number of fields");
  write_all(fd_, csv_line(fields), path_);
}

}  // namespace emu35::app::edit
