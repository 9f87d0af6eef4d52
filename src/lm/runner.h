// The interface the generation loop drives, whatever the backend (CPU now, CUDA later):
// a pool of KV-cache slots (one per sequence) and one forward() per step over a batch
// of rows, each row appending tokens to its own slot.
#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "formats/emu3_config.h"

namespace emu35::lm {

class LmWeights;

struct LmRow {
  int slot;                          // from new_slot()
  std::span<const int32_t> tokens;   // appended to that slot's sequence (at least one)
};

class LmRunner {
 public:
  virtual ~LmRunner() = default;
  virtual const Emu3Config& config() const = 0;
  virtual int vocab_size() const = 0;

  // A KV-cache slot able to hold max_tokens; Error if over max_position_embeddings
  // or out of memory.
  virtual int new_slot(int max_tokens) = 0;
  virtual void free_slot(int slot) = 0;
  virtual int slot_length(int slot) const = 0;  // tokens cached so far

  // One forward over all rows (rows may mix prefill and single-token decode, any
  // lengths, distinct slots). Appends each row's tokens to its cache and writes the
  // float32 logits of each row's LAST token into logits[r * vocab_size() ...].
  // Bad rows (unknown or repeated slot, empty row, token id out of range, cache
  // overflow) throw Error before anything is changed.
  virtual void forward(std::span<const LmRow> rows, float* logits) = 0;
};

struct CpuRunnerOptions {
  int num_threads = 0;       // threads of the runner's pool; 0 = all cores
  int gemm_min_rows = 0;     // token rows from which matmuls go through BLAS sgemm; 0 = built-in default
  int max_chunk_tokens = 0;  // tokens per internal pass (bounds activation memory); 0 = default
};

std::unique_ptr<LmRunner> make_cpu_runner(std::shared_ptr<const LmWeights> weights, int num_threads = 0);
std::unique_ptr<LmRunner> make_cpu_runner(std::shared_ptr<const LmWeights> weights, const CpuRunnerOptions& opts);

}  // namespace emu35::lm
