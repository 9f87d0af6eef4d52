// Random-weight Emu3.5 checkpoints in the real on-disk format (config.json + HF-named
// safetensors, single file or sharded), for tests and benchmarks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "formats/dtype.h"
#include "formats/emu3_config.h"

namespace emu35::lm {

struct RandomCheckpointOptions {
  uint64_t seed = 1;
  DType dtype = DType::BF16;   // BF16, F16 or F32
  size_t max_shard_bytes = 0;  // 0: one model.safetensors; else shards + model.safetensors.index.json
  // Sees every tensor before it is written: return false to leave it out, or change
  // its shape (for tests of the loader's error messages).
  std::function<bool(const std::string& name, std::vector<int64_t>& shape)> edit;
};

// Every tensor the model needs, in checkpoint order, with its shape.
std::vector<std::pair<std::string, std::vector<int64_t>>> checkpoint_tensor_shapes(const Emu3Config& cfg);

void write_random_checkpoint(const std::filesystem::path& dir, const Emu3Config& cfg,
                             const RandomCheckpointOptions& opts = {});

// Hugging Face's initialisation instead (used by `emu35 init-random`, the built-in
// demo model): bf16 weights ~ N(0, initializer_range), norms = 1; one
// model.safetensors, or shards of at most max_shard_bytes plus the index when the
// payload is larger.
void write_random_checkpoint(const std::filesystem::path& dir, const Emu3Config& cfg, uint64_t seed,
                             size_t max_shard_bytes = size_t(4) << 30);

}  // namespace emu35::lm
