// The IBQ AttnBlock's core on the GPU: two cuBLASLt GEMMs around a row
// softmax, in tiles of query rows.
#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.h"
#include "cuda/vq_context.h"
#include "cuda/vq_kernels.h"
#include "cuda/vq_layers.h"
#include "cuda/vq_profile.h"

namespace emu35::cuda::ibq {

DevMap spatial_attention(GpuContext& ctx, const DevMap& q, const DevMap& k, const DevMap& v, size_t max_scores) {
  if (q.c != k.c || q.c != v.c || q.plane() != k.plane() || q.plane() != v.plane())
    throw Error("spatial_attention: q, k, v shapes differ");
  OpTimer timer(ctx, "attention", q.c, q.h, q.w);
  const int c = q.c;
  const size_t plane = q.plane();
  if (plane > size_t(1) << 30) throw Error("spatial_attention: " + std::to_string(plane) + " positions are too many");
  const int n = int(plane);
  const float scale = float(std::pow(double(c), -0.5));  // int(c) ** (-0.5), then as float32
  const bool tf32 = ctx.math == VqMath::kTf32;
  // Query rows per tile: all when the scores fit, else a multiple of 64 (so
  // tile pointers keep 256-byte alignment for cuBLASLt).
  int rows = n;
  if (size_t(n) * size_t(n) > max_scores) rows = std::max<int>(64, int(max_scores / size_t(n)) / 64 * 64);
  rows = std::min(rows, n);
  DevBuffer scores(ctx, size_t(rows) * size_t(n) * sizeof(float));
  DevMap out(ctx, c, q.h, q.w);
  // Column-major views: q, k, v, out are n x c matrices with leading dimension n.
  for (int i0 = 0; i0 < n; i0 += rows) {
    const int m = std::min(rows, n - i0);
    // S^T (n keys x m queries, ld n) = K (n x c) * Q_tile^T: column i holds query i0+i's scores.
    ctx.gemm().run(ctx, false, true, n, m, c, scale, k.data(), n, q.data() + i0, n, 0.0f, scores.as<float>(), n,
                   tf32);
    softmax_rows(scores.as<float>(), m, n, ctx.stream());
    // O_tile (m x c, ld n) = P (m x n) * V (n x c), P stored as S^T.
    ctx.gemm().run(ctx, true, false, m, c, n, 1.0f, scores.as<float>(), n, v.data(), n, 0.0f, out.data() + i0, n,
                   tf32);
  }
  return out;
}

}  // namespace emu35::cuda::ibq
