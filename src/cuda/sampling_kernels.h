// Launchers of the on-device token sampling (sampling_kernels.cu): the same
// semantics as the host's sample_task_on_host (src/gen/step_backend.cpp):
//  1. the task's row: text (visual ids masked), size digits (only lo..hi
//     from the conditional logits) or visual (log-softmax CFG of the two or
//     three streams, then non-visual ids masked); temperature on what is finite;
//  2. top-k: the k-th largest value by a 4-pass radix select (8-bit digits of
//     the float's order-preserving key), every value >= it kept (ties too);
//  3. the survivors compacted in id order; top-p over them by a radix
//     select on probability mass (fixed-point, so the sums are exact and
//     order-free), keeping the token that crosses p, ties cut by lower id;
//  4. the draw: cumulative softmax in id order (double), the first id whose
//     cumulative sum exceeds u * total, u from the host's Philox stream.
// One block per task does 2-4, so only the sampled ids leave the GPU.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace emu35::cuda::sampling {

enum TaskKind : int32_t { kText = 0, kDigits = 1, kVisual = 2 };

struct DeviceTask {
  int32_t kind;
  int32_t cond, uncond, full;  // logits rows (uncond / full: visual only; full < 0: two streams)
  int32_t lo, hi;              // digits: allowed ids
  int32_t bov;                 // first visual id
  float guidance, image_guidance;
  int32_t top_k;  // <= 0: none
  float top_p;    // >= 1: none
  float temperature;
  float u;  // uniform01(seed, 0, step)
};

constexpr int kStatBlocks = 32;  // blocks per logits row for the log-softmax statistics

// Per row r < rows of logits (row stride ld): partial maxima and sums of
// exp(x - max) (double) into stats[r * 2 * kStatBlocks ...]; sized by
// stats_doubles(rows).
size_t stats_doubles(int rows);
void row_stats(const float* logits, int rows, int64_t ld, int vocab, double* stats, cudaStream_t stream);

// work[t * vocab + i] = task t's processed logit i (step 1 above).
void build_rows(const float* logits, int64_t ld, int vocab, const double* stats, const DeviceTask* tasks, int ntasks,
                float* work, cudaStream_t stream);

// Steps 2-4: out[t] = the sampled id, or -1 when nothing is left. cand_ids /
// cand_vals hold ntasks * vocab entries. kept (optional, zeroed by the
// caller): kept[t * vocab + i] = 1 for every id that survived top-k / top-p.
void select_and_draw(const float* work, int vocab, const DeviceTask* tasks, int ntasks, int32_t* cand_ids,
                     float* cand_vals, int32_t* out, uint8_t* kept, cudaStream_t stream);

}  // namespace emu35::cuda::sampling
