// One model instance per DG_EMU35_GPUS_PER_MODEL GPUs: which GPUs exist
// (--num_gpus, else CUDA_VISIBLE_DEVICES, else the NVIDIA driver's list) and
// the consecutive slice each instance gets as its CUDA_VISIBLE_DEVICES.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "app/edit/env_vars.h"

namespace emu35::app::edit {

// GPU ids as CUDA_VISIBLE_DEVICES spells them (numbers or UUIDs, kept as text).
// --num_gpus n takes the first n of the visible list (or 0..n-1 when unset).
std::vector<std::string> visible_gpus(std::optional<int> num_gpus, const EnvLookup& env);

// Slices of g GPUs; empty when there is one instance (g == 0, or fewer than
// two slices fit). Error when g > 0 and not even one slice fits.
std::vector<std::string> gpu_slices(const std::vector<std::string>& gpus, int gpus_per_model);

}  // namespace emu35::app::edit
