// Launchers of the transformer's elementwise and normalisation kernels
// (lm_kernels_norm.cu, lm_kernels_misc.cu) and the layout types the runner
// and the attention kernels share. Every launcher takes device pointers,
// queues work on `stream` and returns at once; those with a `pdl` flag can
// launch with programmatic dependent launch (lm_launch.h).
//
// Precision scheme (both precisions): the residual stream x and every GEMM
// output are float32; what feeds a GEMM or the attention (normed hidden,
// q, attention output, SwiGLU output) and the KV cache are in the "activation
// type": bf16 for the bf16 runner, float32 for the fp32 runner.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "formats/dtype.h"

namespace emu35::cuda {

enum class ActType { BF16, F32 };
inline size_t act_size(ActType t) { return t == ActType::BF16 ? 2 : 4; }

// One query token of a forward pass.
struct TokMeta {
  int pos;  // its position in its sequence (0-based)
  int seg;  // index of its segment
};

// The tokens one row (one sequence) contributes to a pass: tokens tok0 ..
// tok0 + ntok - 1 of the pass, at positions pos0 .. pos0 + ntok - 1.
struct SegMeta {
  void* kv;  // the slot's cache: [layer][K, V][kv_head][cap][head_dim], activation type
  int cap;   // positions per (layer, K/V, head) block of that cache
  int tok0, ntok, pos0;
};

struct KvLayout {
  int layers, kv_heads, head_dim;
};

namespace lmk {

// x[t, :] = float(table[ids[t], :]) for a table in any stored float dtype; with
// ids == nullptr, row t of `table` is token t's (rows gathered on the host).
void embed(const int32_t* ids, int T, const void* table, DType table_dtype, int H, float* x, cudaStream_t stream);
// Random embeddings for benchmarks: a fixed pseudo-random function of (id, column).
void embed_random(const int32_t* ids, int T, int H, uint64_t seed, float scale, float* x, cudaStream_t stream);

// x += delta (when delta is not null), then out = w * (x * rsqrt(mean(x^2) + eps))
// per token (sum of squares in double, as the CPU rmsnorm). x, delta: [T, H] float.
void add_rmsnorm(float* x, const float* delta, const float* w, void* out, ActType out_type, int T, int H, float eps,
                 cudaStream_t stream, bool pdl = false);

// Per token t of a pass, qkv[t] = [q (nh*hd) | k (nkv*hd) | v (nkv*hd)] float:
// q heads: RMSNorm(q_norm) then RoPE -> q_out[t] (activation type);
// k heads: RMSNorm(k_norm) then RoPE -> the cache at (layer, K, head, pos);
// v heads -> the cache at (layer, V, head, pos).
void qk_norm_rope(const float* qkv, int T, const TokMeta* toks, const SegMeta* segs, const float* q_norm,
                  const float* k_norm, const float* cos_t, const float* sin_t, int nh, const KvLayout& kv, int layer,
                  float eps, void* q_out, ActType type, cudaStream_t stream, bool pdl = false);

// out[t, i] = silu(gu[t, i]) * gu[t, I + i]  (gate | up halves of the fused GEMM)
void swiglu(const float* gu, int T, int I, void* out, ActType out_type, cudaStream_t stream);

// dst[r, :] = src[idx[r], :] for rows of H activation-type elements.
void gather_rows(const void* src, const int32_t* idx, int R, int H, ActType type, void* dst, cudaStream_t stream,
                 bool pdl = false);

// dst[i] = src[i] converted (any stored float dtype -> bf16 / float32, bf16 by
// round-to-nearest-even as torch).
void convert(const void* src, DType src_dtype, void* dst, ActType dst_type, size_t n, cudaStream_t stream);

// dst[i] = scale * u(seed, i), u uniform in [-1, 1): random weights for benchmarks.
void fill_random(void* dst, ActType type, size_t n, uint64_t seed, float scale, cudaStream_t stream);
void fill_f32(float* dst, size_t n, float value, cudaStream_t stream);

}  // namespace lmk
}  // namespace emu35::cuda
