// Codes from latents on the GPU: exact float32 GEMM tiles of dot products
// with the codebook and a running first-maximum argmax, so the full
// [positions x n_embed] matrix (2 GB at 64x64 codes) never exists.
#include <algorithm>
#include <string>

#include "common/error.h"
#include "cuda/vq_context.h"
#include "cuda/vq_kernels.h"
#include "cuda/vq_layers.h"
#include "cuda/vq_profile.h"

namespace emu35::cuda::ibq {

DevBuffer codebook_argmax(GpuContext& ctx, const float* codebook, int n_embed, int dim, const DevMap& latent,
                          size_t max_scores) {
  if (latent.c != dim)
    throw Error("codebook_argmax: latent has " + std::to_string(latent.c) + " channels, codebook dim is " +
                std::to_string(dim));
  if (n_embed <= 0) throw Error("codebook_argmax: empty codebook");
  OpTimer timer(ctx, "codebook argmax", latent.c, latent.h, latent.w);
  const int n = int(latent.plane());
  // Codes per tile: all when they fit, else a multiple of 64 (256-byte aligned tile pointers).
  int tile = n_embed;
  if (size_t(n) * size_t(n_embed) > max_scores) tile = std::max<int>(64, int(max_scores / size_t(n)) / 64 * 64);
  tile = std::min(tile, n_embed);
  DevBuffer scores(ctx, size_t(tile) * size_t(n) * sizeof(float));
  DevBuffer best_val(ctx, size_t(n) * sizeof(float));
  DevBuffer best_idx(ctx, size_t(n) * sizeof(int32_t));
  for (int j0 = 0; j0 < n_embed; j0 += tile) {
    const int t = std::min(tile, n_embed - j0);
    // scores (t codes x n positions, ld t) = E_tile (t x dim) * Z^T (dim x n):
    // E_tile is stored dim x t (ld dim), Z (latent) n x dim (ld n). Column p
    // holds position p's dot products with codes j0 .. j0+t-1.
    ctx.gemm().run(ctx, true, true, t, n, dim, 1.0f, codebook + size_t(j0) * size_t(dim), dim, latent.data(), n, 0.0f,
                   scores.as<float>(), t, /*tf32=*/false);
    argmax_update(scores.as<float>(), n, t, t, j0, j0 == 0, best_val.as<float>(), best_idx.as<int32_t>(),
                  ctx.stream());
  }
  return best_idx;
}

DevMap codebook_lookup(GpuContext& ctx, const float* codebook, int dim, const int32_t* codes, int h, int w) {
  DevMap z(ctx, dim, h, w);
  ibq::codebook_lookup(codebook, dim, codes, int(z.plane()), z.data(), ctx.stream());
  return z;
}

}  // namespace emu35::cuda::ibq
