// The non-convolution layers of the IBQ encoder/decoder, float32 on the CPU.
#pragma once
#include <vector>

#include "vq/feature_map.h"

namespace emu35::vq {

// nn.GroupNorm(groups, C, eps, affine): statistics per group over its C/groups
// channels x H x W, in double (two passes), applied as PyTorch's CPU kernel
// does, x * (gamma * rstd) + (beta - mean * gamma * rstd), but in double and
// rounded once: in float that form cancels badly when |mean| >> std.
// With `swish`, x * sigmoid(x) follows in the same pass.
FeatureMap group_norm(const FeatureMap& x, const std::vector<float>& gamma, const std::vector<float>& beta,
                      int groups, float eps, bool swish);

void swish_inplace(FeatureMap& x);

// F.interpolate(scale_factor=2, mode="nearest").
FeatureMap upsample_nearest2x(const FeatureMap& x);

// x += y (same shape).
void add_inplace(FeatureMap& x, const FeatureMap& y);

// Single-head attention over all h*w positions of q, k, v ([C, h, w] each):
// out[:, i] = sum_j softmax_j(q[:, i] . k[:, j] * C^-0.5) v[:, j].
// Scores are computed in tiles of query rows, so memory stays bounded.
FeatureMap spatial_attention(const FeatureMap& q, const FeatureMap& k, const FeatureMap& v);

}  // namespace emu35::vq
