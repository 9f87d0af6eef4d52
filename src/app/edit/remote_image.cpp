#include "app/edit/remote_image.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/file_util.h"
#include "image/image_read.h"

extern char** environ;

namespace fs = std::filesystem;

namespace emu35::app::edit {

std::string cache_file_name(const std::string& url) {
  // Python's Path(urlparse(url).path).suffix: the last ".x" of the last path
  // segment (not counting a leading dot), ".jpg" when there is none.
  std::string path = url;
  size_t scheme = path.find("://");
  if (scheme != std::string::npos) {
    size_t slash = path.find('/', scheme + 3);
    path = slash == std::string::npos ? "" : path.substr(slash);
  }
  size_t cut = path.find_first_of("?#");
  if (cut != std::string::npos) path.resize(cut);
  std::string name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  std::string ext = ".jpg";
  size_t dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0 && dot + 1 < name.size()) ext = name.substr(dot);
  return md5_hex(url) + ext;
}

namespace {
// curl -fsSL --max-time 30 -o dest url; stderr captured for the message.
void download(const std::string& url, const fs::path& dest) {
  char errpath[] = "/tmp/emu35-curl-XXXXXX";
  int errfd = ::mkstemp(errpath);
  if (errfd < 0) throw Error("image " + url + ": cannot create a temporary file");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, errfd, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> args = {"curl", "-fsSL", "--max-time", "30", "--proto", "=http,https", "-o", dest.string(), "--", url};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "curl", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(errfd);
  if (rc != 0) {
    ::unlink(errpath);
    throw Error("image " + url + ": cannot run curl to fetch it (" + std::strerror(rc) +
                "); install curl or download the pictures first");
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string err;
  try {
    err = read_whole_file(errpath);
  } catch (const Error&) {
  }
  ::unlink(errpath);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::error_code ec;
    fs::remove(dest, ec);
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    throw Error("image " + url + ": download failed" + (err.empty() ? std::string() : ": " + err));
  }
}
}  // namespace

Image fetch_remote_image(const std::string& url, const fs::path& cache_dir) {
  if (!cache_dir.empty()) {
    const fs::path cached = cache_dir / cache_file_name(url);
    if (fs::exists(cached)) return read_image(cached);
    fs::create_directories(cache_dir);
    const fs::path tmp = cached.string() + ".tmp." + std::to_string(::getpid());
    download(url, tmp);
    Image img;
    try {
      img = read_image(tmp);
    } catch (const Error& e) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw Error("image " + url + ": " + e.what());
    }
    std::error_code ec;
    fs::rename(tmp, cached, ec);  // the cache is an optimisation: a failed rename is not an error
    if (ec) fs::remove(tmp, ec);
    return img;
  }
  char path[] = "/tmp/emu35-image-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) throw Error("image " + url + ": cannot create a temporary file");
  ::close(fd);
  try {
    download(url, path);
    Image img = read_image(path);
    ::unlink(path);
    return img;
  } catch (const Error& e) {
    ::unlink(path);
    throw Error(std::string(e.what()).find(url) == std::string::npos ? "image " + url + ": " + e.what() : e.what());
  }
}

}  // namespace emu35::app::edit
