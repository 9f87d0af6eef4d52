#include "vq/codebook.h"

#include <cblas.h>

#include <algorithm>
#include <limits>

#include "common/error.h"

namespace emu35::vq {

std::vector<int32_t> codebook_argmax(const std::vector<float>& codebook, int n_embed, int dim, const FeatureMap& latent) {
  if (latent.c != dim) throw Error("codebook_argmax: latent has " + std::to_string(latent.c) + " channels, codebook dim is " + std::to_string(dim));
  const int n = int(latent.plane());
  std::vector<int32_t> best(size_t(n), 0);
  std::vector<float> best_val(size_t(n), -std::numeric_limits<float>::infinity());
  if (n == 0) return best;
  // Codes per tile: ~16M logits (64 MB) at a time.
  const int tile = std::max(1, std::min(n_embed, int((size_t(16) << 20) / size_t(n))));
  std::vector<float> logits(size_t(n) * size_t(tile));
  for (int k0 = 0; k0 < n_embed; k0 += tile) {
    const int kn = std::min(tile, n_embed - k0);
    // logits[p, j] = sum_d latent[d, p] * codebook[k0 + j, d]
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, n, kn, dim, 1.0f, latent.data.data(), n,
                codebook.data() + size_t(k0) * size_t(dim), dim, 0.0f, logits.data(), kn);
#pragma omp parallel for schedule(static)
    for (int p = 0; p < n; ++p) {
      const float* row = logits.data() + size_t(p) * size_t(kn);
      float bv = best_val[size_t(p)];
      int32_t bi = best[size_t(p)];
      for (int j = 0; j < kn; ++j)
        if (row[j] > bv) {  // strict: the first maximum wins
          bv = row[j];
          bi = k0 + j;
        }
      best_val[size_t(p)] = bv;
      best[size_t(p)] = bi;
    }
  }
  return best;
}

FeatureMap codebook_lookup(const std::vector<float>& codebook, int dim, const std::vector<int32_t>& codes, int h, int w) {
  FeatureMap z(dim, h, w);
  const size_t n = z.plane();
  if (codes.size() != n) throw Error("codebook_lookup: code count does not match the grid");
  for (size_t p = 0; p < n; ++p) {
    const float* e = codebook.data() + size_t(codes[p]) * size_t(dim);
    for (int d = 0; d < dim; ++d) z.data[size_t(d) * n + p] = e[d];
  }
  return z;
}

}  // namespace emu35::vq
