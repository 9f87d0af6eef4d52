// The IBQ codebook: code = argmax over codebook rows of the dot product with
// the latent vector (IndexPropagationQuantize in eval mode; not an L2 search),
// and the reverse lookup for decoding.
#pragma once
#include <cstdint>
#include <vector>

#include "vq/feature_map.h"

namespace emu35::vq {

// codebook: [n_embed, dim] row-major. latent: [dim, h, w]. Returns h*w codes,
// row-major. Ties go to the lowest index, as torch.argmax. Logits are computed
// by cblas_sgemm in (positions x codes) tiles on OpenMP threads, so the full
// [h*w, n_embed] matrix never exists.
std::vector<int32_t> codebook_argmax(const std::vector<float>& codebook, int n_embed, int dim, const FeatureMap& latent);

// [dim, h, w] from h*w codes (each already checked to be in [0, n_embed)).
FeatureMap codebook_lookup(const std::vector<float>& codebook, int dim, const std::vector<int32_t>& codes, int h, int w);

}  // namespace emu35::vq
