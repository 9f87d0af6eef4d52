// Who does which rows: contiguous shards by node, then by worker within the
// node (diffgentor's rule: chunk = ceil(pending / parts)), and where the node
// rank comes from (flags, a Slurm array, a Kubernetes Indexed Job).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "app/edit/env_vars.h"

namespace emu35::app::edit {

// [first, last) of part `part` when n items are cut into `parts` contiguous
// chunks of ceil(n / parts); trailing parts may be empty.
std::pair<size_t, size_t> contiguous_chunk(size_t n, int parts, int part);

struct NodePlacement {
  int rank = 0, count = 1;
  std::string source;  // "default", "flags", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"
};

// Explicit flags win; otherwise SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT
// (rank offset by SLURM_ARRAY_TASK_MIN when set), otherwise
// JOB_COMPLETION_INDEX with the count from --num_nodes or JOB_COMPLETIONS
// (Kubernetes does not export the completion count: one of the two is required).
// Errors name the variable or flag.
NodePlacement resolve_node_placement(std::optional<int> flag_rank, std::optional<int> flag_count,
                                     const EnvLookup& env);

}  // namespace emu35::app::edit
