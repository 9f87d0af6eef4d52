// Causal GQA attention over the KV cache (the current tokens' K/V are already
// in it, written by lmk::qk_norm_rope).
//
// decode_attention (lm_attention_decode.cu): split-K "flash decoding". One
//   block per (split, kv head, query token) reads its share of that token's
//   context once for all query heads of the group (so each K/V byte is read
//   once per query token and step), keeps an online softmax, and writes a
//   partial (max, sum, unnormalised output); a combine kernel merges the
//   splits in a fixed order. Decode is a pure stream of the cache, so blocks
//   are small (4 warps, 68 KB of shared memory at head_dim 128: 3 per SM) and
//   each warp pipelines its own 16-position tiles with cp.async, two in
//   flight, scoring and accumulating on tensor cores (bf16, head_dim a
//   multiple of 16); float32 caches and other head dims take a scalar kernel.
//   Works for every query token of any pass (it is also the fp32 runner's
//   prefill attention), at most 8 query heads per kv head, head_dim up to 256.
// prefill_attention (lm_attention_prefill.cu): flash attention on tensor
//   cores (mma.sync m16n8k16 bf16, fp32 accumulate, online softmax) for the
//   segments of a pass that add several tokens to one sequence; bf16 only,
//   head_dim 64 or 128.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/lm_kernels.h"

namespace emu35::cuda::lmk {

// Whether decode_attention handles this shape (checked once by the runner).
bool decode_attention_supported(int heads, int kv_heads, int head_dim);

// Context splits per (kv head, query token) for `tokens` query tokens: one
// wave of blocks (3 per SM), at most 64. Fixed for a given token count, so a
// captured CUDA graph stays valid whatever the context lengths.
int decode_splits(int tokens, int kv_heads, int num_sms);
// Floats of workspace decode_attention needs.
size_t decode_workspace_floats(int tokens, int heads, int head_dim, int splits);

// out[tok] (activation type, [heads * head_dim]) for the query tokens
// qtok[0 .. nq) (token indices of the pass; nullptr = tokens 0 .. nq-1), each
// attending to positions 0 .. toks[tok].pos of its segment's cache. With pdl
// both kernels are launched with programmatic dependent launch (lm_launch.h).
void decode_attention(const void* q, const int32_t* qtok, int nq, const TokMeta* toks, const SegMeta* segs, int heads,
                      const KvLayout& kv, int layer, float scale, int splits, float* workspace, void* out, ActType type,
                      cudaStream_t stream, bool pdl = false);

bool prefill_attention_supported(ActType type, int head_dim);

// For the segments seg_ids[0 .. nseg) (each with ntok > 1; max_ntok the
// largest): every token of the segment attends causally to its cache.
void prefill_attention(const void* q, const int32_t* seg_ids, int nseg, int max_ntok, const SegMeta* segs, int heads,
                       const KvLayout& kv, int layer, float scale, void* out, cudaStream_t stream);

}  // namespace emu35::cuda::lmk
