// Several model instances on one host: this process starts one child per GPU
// slice (the same program and arguments plus the worker flags, its own
// CUDA_VISIBLE_DEVICES), forwards SIGINT/SIGTERM to them, and waits.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace emu35::app::edit {

struct WorkerLaunch {
  std::vector<std::string> extra_args;  // appended to this process's own arguments
  std::string cuda_visible_devices;
};

// This process's command line (from /proc/self/cmdline), argv[0] included.
std::vector<std::string> own_command_line();

struct WorkerOutcome {
  int exit_code = 0;  // 128 + signal when killed
};

// Starts every worker (in its own process group, so a terminal Ctrl-C reaches
// only this parent, which forwards it once), waits for all of them.
// `on_start(i, pid)` reports each start. Throws Error when a worker cannot start
// (the ones already started are stopped first).
std::vector<WorkerOutcome> run_workers(const std::vector<WorkerLaunch>& launches,
                                       const std::function<void(size_t, int)>& on_start);

// In a worker started by run_workers: ask the kernel to SIGTERM us when the
// parent dies, so no orphan keeps a GPU busy.
void follow_parent_death();

}  // namespace emu35::app::edit
