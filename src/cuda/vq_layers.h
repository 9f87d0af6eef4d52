// The IBQ building blocks on GPU activations, each the counterpart of a CPU
// layer in src/vq (cpu_conv.h, cpu_layers.h, codebook.h). Each returns a new
// activation; work is queued on ctx's stream. Convolutions and attention
// follow ctx.math.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/vq_device_map.h"
#include "cuda/vq_weights.h"

namespace emu35::cuda::ibq {

class GpuContext;

// Conv2d with k/2 zero padding, stride 1, + bias, + residual when given
// (the residual is added after the bias, as the CPU's add_inplace).
DevMap conv_same(GpuContext& ctx, const DevMap& x, const DConv& conv, const DevMap* residual = nullptr);
// IBQ Downsample: zero pad right and bottom by one, 3x3 stride 2, + bias.
DevMap conv_downsample(GpuContext& ctx, const DevMap& x, const DConv& conv);

DevMap group_norm(GpuContext& ctx, const DevMap& x, const DNorm& norm, int groups, float eps, bool swish);
DevMap upsample_nearest2x(GpuContext& ctx, const DevMap& x);

// Single-head attention over all h*w positions of q, k, v ([C, h, w] each):
// out[:, i] = sum_j softmax_j(q[:, i] . k[:, j] * C^-0.5) v[:, j], computed
// in tiles of query rows so the score tile holds at most `max_scores` floats.
DevMap spatial_attention(GpuContext& ctx, const DevMap& q, const DevMap& k, const DevMap& v,
                         size_t max_scores = size_t(64) << 20);

// codes[p] = argmax_j codebook[j] . latent[:, p] (first maximum), as int32 on
// the device; the dot products are exact float32 GEMM tiles of at most
// `max_scores` floats, whatever ctx.math says.
DevBuffer codebook_argmax(GpuContext& ctx, const float* codebook, int n_embed, int dim, const DevMap& latent,
                          size_t max_scores = size_t(64) << 20);
// [dim, h, w] from h*w device codes (already checked to be in range).
DevMap codebook_lookup(GpuContext& ctx, const float* codebook, int dim, const int32_t* codes, int h, int w);

}  // namespace emu35::cuda::ibq
