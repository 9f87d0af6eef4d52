#include "vq/codebook.h"

#include <cblas.h>

#include <algorithm>
#include <limits>
#include <string>

#include "common/error.h"
#include "vq/parallel.h"

namespace emu35::vq {

std::vector<int32_t> codebook_argmax(const std::vector<float>& codebook, int n_embed, int dim, const FeatureMap& latent) {
  if (latent.c != dim)
    throw Error("codebook_argmax: latent has " + std::to_string(latent.c) + " channels, codebook dim is " +
                std::to_string(dim));
  if (codebook.size() != size_t(n_embed) * size_t(dim)) throw Error("codebook_argmax: codebook size mismatch");
  const int n = int(latent.plane());
  if (n == 0) return {};
  // Work items: (block of positions) x (block of codes), each one GEMM into a
  // private logits buffer and a running argmax for those positions over those
  // codes. Blocks are merged in code order afterwards, so ties keep the lowest index.
  const int pos_block = std::min(n, 256);
  const int code_block = std::min(n_embed, 4096);
  const int pos_blocks = (n + pos_block - 1) / pos_block;
  const int code_blocks = (n_embed + code_block - 1) / code_block;
  std::vector<float> part_val(size_t(code_blocks) * size_t(n));
  std::vector<int32_t> part_idx(size_t(code_blocks) * size_t(n));
  const long work = long(std::min<double>(2.0 * n * double(n_embed) * dim, 1e15));
  BlasSingleThreaded single;
#pragma omp parallel if (work > kMinParallelWork && pos_blocks * code_blocks > 1)
  {
    std::vector<float> logits(size_t(pos_block) * size_t(code_block));
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int cb = 0; cb < code_blocks; ++cb) {
      for (int pb = 0; pb < pos_blocks; ++pb) {
        const int k0 = cb * code_block, kn = std::min(code_block, n_embed - k0);
        const int p0 = pb * pos_block, pn = std::min(pos_block, n - p0);
        // logits[p, j] = sum_d latent[d, p0 + p] * codebook[k0 + j, d]
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, pn, kn, dim, 1.0f, latent.data.data() + p0, n,
                    codebook.data() + size_t(k0) * size_t(dim), dim, 0.0f, logits.data(), kn);
        for (int p = 0; p < pn; ++p) {
          const float* row = logits.data() + size_t(p) * size_t(kn);
          float bv = row[0];
          int32_t bi = 0;
          for (int j = 1; j < kn; ++j)
            if (row[j] > bv) {  // strict: the first maximum wins
              bv = row[j];
              bi = j;
            }
          part_val[size_t(cb) * size_t(n) + size_t(p0 + p)] = bv;
          part_idx[size_t(cb) * size_t(n) + size_t(p0 + p)] = k0 + bi;
        }
      }
    }
  }
  std::vector<int32_t> best(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    float bv = part_val[size_t(p)];
    int32_t bi = part_idx[size_t(p)];
    for (int cb = 1; cb < code_blocks; ++cb) {
      const float v = part_val[size_t(cb) * size_t(n) + size_t(p)];
      if (v > bv) {
        bv = v;
        bi = part_idx[size_t(cb) * size_t(n) + size_t(p)];
      }
    }
    best[size_t(p)] = bi;
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
