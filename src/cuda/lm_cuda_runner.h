// The transformer on one GPU: an LmRunner whose weights live in device memory
// (bf16 as stored, or widened to float32 for checks against the CPU), with a
// preallocated KV cache per slot and the all-decode step replayed from a CUDA
// graph. Design notes: docs/cuda.md.
//
// One forward pass over T tokens (rows may mix prefill and decode):
//   embed -> x (float32 residual stream)
//   per layer: h = RMSNorm(x); qkv = h Wqkv^T (fused q|k|v weight);
//              q/k RMSNorm + RoPE, K/V -> cache; attention (split-K decode
//              kernel for single-token rows, tensor-core flash attention for
//              prefill rows); x += att Wo^T; h = RMSNorm(x);
//              gu = h Wgu^T (fused gate|up); x += SwiGLU(gu) Wdown^T
//   final RMSNorm of each row's last token -> lm_head -> float32 logits.
// Passes hold at most max_chunk_tokens tokens; longer batches run as several
// passes (a row split across passes reads its earlier part from the cache).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "formats/emu3_config.h"
#include "lm/lm_weights.h"
#include "lm/runner.h"

namespace emu35::cuda {

enum class Precision { BF16, FP32 };
Precision parse_precision(const std::string& s);  // "bf16" or "fp32"; Error otherwise
const char* precision_name(Precision p);

// Where the input embedding table lives. Auto: on the GPU when, after
// everything else, at least a fifth of the GPU's memory stays free for KV
// caches and the vision tokenizer; else rows are gathered on the host from
// the mapped checkpoint (a decode step needs only a few rows).
enum class EmbeddingPlacement { Auto, Device, Host };

struct CudaRunnerOptions {
  int device = 0;
  Precision precision = Precision::BF16;
  int max_chunk_tokens = 0;  // tokens per pass (bounds activation memory); 0 = 2048
  bool cuda_graphs = true;   // capture the all-decode step per row count and replay it
  EmbeddingPlacement embedding = EmbeddingPlacement::Auto;
  bool progress = true;              // loading progress bar on stderr (when it is a terminal)
  bool prefill_tensor_cores = true;  // false: prefill tokens use the decode attention kernel too
  // Small-batch passes: programmatic dependent launch between kernels. Off by
  // default: on the H100 the decode step measured 0.2 ms faster without it
  // (BENCHMARKS.md). EMU35_PDL=1 / EMU35_PDL=0 override this.
  bool programmatic_launch = false;
};

struct RunnerMemory {
  uint64_t weights = 0;      // device bytes of the transformer weights (lm_head included)
  uint64_t embedding = 0;    // device bytes of the input embedding (0 when on the host)
  uint64_t activations = 0;  // pass buffers, logits, workspaces
  uint64_t kv_cache = 0;     // bytes held by live and cached KV slots
  uint64_t kv_bytes_per_token = 0;
  uint64_t streamed_per_step = 0;  // weight bytes one pass reads (everything but the input embedding)
  bool embedding_on_device = false;
};

class CudaRunner final : public lm::LmRunner {
 public:
  // Uploads the checkpoint (bf16/f16/f32 as stored -> the runner's precision).
  // Error when the GPU lacks the memory, with the bytes needed and free.
  CudaRunner(std::shared_ptr<const lm::LmWeights> weights, const CudaRunnerOptions& opts);
  // Random weights generated on the GPU, for benchmarks at full size without a
  // checkpoint: bf16 uniform with std initializer_range, norms 1, embeddings a
  // hash of (token, column).
  CudaRunner(const Emu3Config& config, uint64_t seed, const CudaRunnerOptions& opts);
  ~CudaRunner() override;

  const Emu3Config& config() const override;
  int vocab_size() const override;
  int new_slot(int max_tokens) override;
  void free_slot(int slot) override;
  int slot_length(int slot) const override;
  int slot_capacity(int slot) const;  // max_tokens given to new_slot
  void forward(std::span<const lm::LmRow> rows, float* logits) override;

  // forward() that leaves the logits on the GPU: row r at
  // logits_device + r * logits_stride(), valid until the next forward. The
  // work is queued on stream() and not waited for.
  const float* forward_device(std::span<const lm::LmRow> rows);
  int64_t logits_stride() const;
  cudaStream_t stream() const;
  int device() const;
  Precision precision() const;
  RunnerMemory memory() const;
  int graphs_captured() const;
  // With EMU35_STEP_PROFILE=1 (read at construction) passes run eagerly with
  // a timing event after every kernel; this returns the time per kernel kind
  // per pass, averaged over the passes since the last call (and clears them).
  std::string step_profile_report();

  // Benchmarks: the slot now holds `length` tokens of random K/V.
  void fill_slot_random(int slot, int length, uint64_t seed);
  // Frees KV blocks kept for reuse after free_slot (e.g. before another model needs the memory).
  void release_cached_memory();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emu35::cuda
