#include "app/edit/worker_spawn.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/edit/interrupt.h"
#include "common/error.h"
#include "common/file_util.h"

extern char** environ;

namespace emu35::app::edit {

namespace {
constexpr const char* kParentVar = "EMU35_EDIT_PARENT_PID";
}

std::vector<std::string> own_command_line() {
  const std::string raw = read_whole_file("/proc/self/cmdline");
  std::vector<std::string> args;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    args.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  return args;
}

std::vector<WorkerOutcome> run_workers(const std::vector<WorkerLaunch>& launches,
                                       const std::function<void(size_t, int)>& on_start) {
  const std::vector<std::string> base = own_command_line();
  std::vector<pid_t> pids;
  auto stop_all = [&](int sig) {
    for (pid_t p : pids)
      if (p > 0) ::kill(p, sig);
  };
  for (size_t i = 0; i < launches.size(); ++i) {
    std::vector<std::string> args = base;
    args.insert(args.end(), launches[i].extra_args.begin(), launches[i].extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The environment, with this worker's GPUs and the parent marker.
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string_view v(*e);
      if (v.rfind("CUDA_VISIBLE_DEVICES=", 0) == 0 || v.rfind(std::string(kParentVar) + "=", 0) == 0) continue;
      env.emplace_back(v);
    }
    env.push_back("CUDA_VISIBLE_DEVICES=" + launches[i].cuda_visible_devices);
    env.push_back(std::string(kParentVar) + "=" + std::to_string(::getpid()));
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, "/proc/self/exe", nullptr, &attr, argv.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      stop_all(SIGTERM);
      for (pid_t p : pids) ::waitpid(p, nullptr, 0);
      throw Error("cannot start worker " + std::to_string(i) + ": " + std::strerror(rc));
    }
    pids.push_back(pid);
    if (on_start) on_start(i, pid);
  }
  std::vector<WorkerOutcome> out(pids.size());
  size_t left = pids.size();
  bool forwarded = false;
  // Polled, so a signal is forwarded promptly even though waitpid restarts.
  while (left > 0) {
    if (interrupted() && !forwarded) {
      stop_all(interrupt_signal());
      forwarded = true;
    }
    int status = 0;
    pid_t p = ::waitpid(-1, &status, WNOHANG);
    if (p == 0) {
      ::usleep(100 * 1000);
      continue;
    }
    if (p < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (size_t i = 0; i < pids.size(); ++i)
      if (pids[i] == p) {
        out[i].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pids[i] = -1;
        --left;
      }
  }
  return out;
}

void follow_parent_death() {
  const char* v = std::getenv(kParentVar);
  if (!v) return;
  const pid_t parent = static_cast<pid_t>(std::atoll(v));
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::raise(SIGTERM);  // the parent is already gone
}

}  // namespace emu35::app::edit
