// The CPU backend: float32 math over memory-mapped bf16/f16/f32 weights, one thread
// pool for everything, OpenBLAS sgemm (single-threaded per pool thread) for
// prefill-sized matmuls.
//
// Batch independence: every per-token step (norms, RoPE, attention, the few-row
// matmul kernel) computes a row's numbers in an order that does not depend on the
// other rows. So a row's logits are bit-identical whatever else is in the batch as
// long as each internal pass picks the same matmul path (all passes below
// gemm_min_rows tokens, i.e. decode batches, always do). When the sgemm path is
// involved, results agree to float rounding only (~5e-7 relative measured):
// OpenBLAS's summation order can depend on the number of rows.
//
// One thread drives a runner at a time (forward() uses the runner's own pool and
// scratch buffers). During each sgemm-path matmul OpenBLAS is switched to one
// thread process-wide (see BlasSingleThreaded) and restored afterwards.
#pragma once
#include <memory>
#include <span>
#include <vector>

#include "lm/cpu_matmul.h"
#include "lm/cpu_ops.h"
#include "lm/kv_cache.h"
#include "lm/lm_weights.h"
#include "lm/runner.h"
#include "lm/thread_pool.h"

namespace emu35::lm {

class CpuRunner final : public LmRunner {
 public:
  static constexpr int kDefaultMaxChunkTokens = 1024;

  CpuRunner(std::shared_ptr<const LmWeights> weights, const CpuRunnerOptions& opts);

  const Emu3Config& config() const override { return weights_->config(); }
  int vocab_size() const override { return static_cast<int>(weights_->config().vocab_size); }
  int new_slot(int max_tokens) override;
  void free_slot(int slot) override;
  int slot_length(int slot) const override;
  int slot_capacity(int slot) const;  // max_tokens given to new_slot
  void forward(std::span<const LmRow> rows, float* logits) override;

  // forward() plus, for tests and debugging, every token's state after the final
  // norm (hidden_all: [total tokens, hidden], rows in order) and, when logits_all is
  // given, every token's logits ([total tokens, vocab]). `logits` may be null here.
  void forward_all(std::span<const LmRow> rows, float* logits, std::vector<float>* hidden_all,
                   std::vector<float>* logits_all);

  int num_threads() const { return pool_.size(); }
  const LmWeights& weights() const { return *weights_; }

 private:
  struct Tok {
    int slot;
    int pos;
    int32_t id;
    int row;
    bool last;  // the row's last token (its logits are returned)
  };
  void validate(std::span<const LmRow> rows) const;
  void run_chunk(std::span<const Tok> toks, size_t first, float* logits, std::vector<float>* hidden_all,
                 std::vector<float>* logits_all);
  void ensure_buffers(int64_t n);

  std::shared_ptr<const LmWeights> weights_;
  ThreadPool pool_;
  int max_chunk_;
  Matmul mm_;
  Rope rope_;
  KvCache cache_;
  // Activation scratch, sized for the largest pass so far.
  std::vector<float> x_, h_, q_, k_, v_, att_, gate_, up_, cos_, sin_, out_;
  std::vector<std::vector<float>> scores_;  // per pool thread
};

}  // namespace emu35::lm
