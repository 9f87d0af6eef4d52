#include "app/edit/sharding.h"

#include <algorithm>

#include "common/error.h"

namespace emu35::app::edit {

std::pair<size_t, size_t> contiguous_chunk(size_t n, int parts, int part) {
  if (parts < 1 || part < 0 || part >= parts) throw Error("shard " + std::to_string(part) + " of " + std::to_string(parts) + ": out of range");
  const size_t chunk = (n + static_cast<size_t>(parts) - 1) / static_cast<size_t>(parts);
  const size_t first = std::min(n, chunk * static_cast<size_t>(part));
  return {first, std::min(n, first + chunk)};
}

namespace {
std::optional<int> env_int(const EnvLookup& env, const char* name, int64_t lo) {
  const char* v = env(name);
  if (!v || !*v) return std::nullopt;
  int64_t x = parse_int_strict(v, name);
  if (x < lo || x > 1000000) throw Error(std::string(name) + ": out of range: \"" + v + "\"");
  return static_cast<int>(x);
}
}  // namespace

NodePlacement resolve_node_placement(std::optional<int> flag_rank, std::optional<int> flag_count,
                                     const EnvLookup& env) {
  NodePlacement p;
  p.source = "default";
  std::optional<int> rank = flag_rank, count = flag_count;
  if (rank || count) p.source = "flags";
  if (!rank) {
    if (auto id = env_int(env, "SLURM_ARRAY_TASK_ID", 0)) {
      const int min = env_int(env, "SLURM_ARRAY_TASK_MIN", 0).value_or(0);
      if (*id < min) throw Error("SLURM_ARRAY_TASK_ID (" + std::to_string(*id) + ") is below SLURM_ARRAY_TASK_MIN");
      rank = *id - min;
      if (!count) {
        count = env_int(env, "SLURM_ARRAY_TASK_COUNT", 1);
        if (!count) throw Error("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: pass --num_nodes");
      }
      p.source = "SLURM_ARRAY_TASK_ID";
    } else if (auto idx = env_int(env, "JOB_COMPLETION_INDEX", 0)) {
      rank = *idx;
      if (!count) {
        count = env_int(env, "JOB_COMPLETIONS", 1);
        if (!count)
          throw Error("JOB_COMPLETION_INDEX is set but the number of completions is unknown: pass --num_nodes N "
                      "(the Job's spec.completions) or set JOB_COMPLETIONS=N in the pod's environment");
      }
      p.source = "JOB_COMPLETION_INDEX";
    }
  }
  p.rank = rank.value_or(0);
  p.count = count.value_or(1);
  if (p.count < 1) throw Error("--num_nodes must be at least 1, got " + std::to_string(p.count));
  if (p.rank < 0 || p.rank >= p.count)
    throw Error("node rank " + std::to_string(p.rank) + " (from " + p.source + ") is outside 0.." +
                std::to_string(p.count - 1) + " (--num_nodes " + std::to_string(p.count) + ")");
  return p;
}

}  // namespace emu35::app::edit
