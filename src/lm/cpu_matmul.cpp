#include "lm/cpu_matmul.h"

#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

namespace emu35::lm {

namespace {

// Loaders: 8 (or 1) stored elements starting at element index i -> float32.
struct LoadBf16 {
  static __m256 load8(const uint8_t* p, int64_t i) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float load1(const uint8_t* p, int64_t i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return bf16_to_f32(h);
  }
};
struct LoadF16 {
  static __m256 load8(const uint8_t* p, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i)));
  }
  static float load1(const uint8_t* p, int64_t i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return _cvtsh_ss(h);
  }
};
struct LoadF32 {
  static __m256 load8(const uint8_t* p, int64_t i) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p + 4 * i));
  }
  static float load1(const uint8_t* p, int64_t i) {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
};

// Fixed reduction order, shared by every tile shape (part of the determinism promise).
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// MR activation rows x NR weight rows. Each output: 8-lane FMA accumulation over k in
// steps of 8, hsum, then the k tail with scalar FMAs, the same for every MR/NR.
template <class L, int MR, int NR>
inline void tile(const float* x, int64_t K, const uint8_t* w, int64_t n0, float* y, int64_t N) {
  __m256 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  const int64_t K8 = K & ~int64_t{7};
  for (int64_t k = 0; k < K8; k += 8) {
    __m256 xv[MR];
    for (int i = 0; i < MR; ++i) xv[i] = _mm256_loadu_ps(x + i * K + k);
    for (int j = 0; j < NR; ++j) {
      const __m256 wv = L::load8(w, (n0 + j) * K + k);
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      float s = hsum(acc[i][j]);
      for (int64_t k = K8; k < K; ++k) s = std::fma(x[i * K + k], L::load1(w, (n0 + j) * K + k), s);
      y[i * N + n0 + j] = s;
    }
}

constexpr int64_t kColBlock = 16;  // weight rows per work item (stay in L2 across row tiles)

template <class L>
void direct_block(const float* x, int64_t M, int64_t K, const uint8_t* w, int64_t N, int64_t c0, int64_t c1,
                  float* y) {
  if (M == 1) {
    int64_t n = c0;
    for (; n + 8 <= c1; n += 8) tile<L, 1, 8>(x, K, w, n, y, N);
    for (; n < c1; ++n) tile<L, 1, 1>(x, K, w, n, y, N);
    return;
  }
  int64_t m = 0;
  auto rows = [&]<int MR>() {
    int64_t n = c0;
    for (; n + 4 <= c1; n += 4) tile<L, MR, 4>(x + m * K, K, w, n, y + m * N, N);
    for (; n < c1; ++n) tile<L, MR, 1>(x + m * K, K, w, n, y + m * N, N);
  };
  for (; m + 3 <= M; m += 3) rows.template operator()<3>();
  if (M - m == 2) rows.template operator()<2>();
  else if (M - m == 1) rows.template operator()<1>();
}

template <class L>
void direct(const float* x, int64_t M, const WeightMatrix& w, float* y, ThreadPool& pool) {
  const int64_t N = w.rows, K = w.cols;
  const int64_t blocks = (N + kColBlock - 1) / kColBlock;
  // Small products are not worth waking the pool for.
  const int64_t grain = N * K * M < (int64_t{1} << 15) ? blocks : pool.grain_for(blocks);
  pool.parallel_for(blocks, grain, [&](int64_t b0, int64_t b1, int) {
    direct_block<L>(x, M, K, w.data, N, b0 * kColBlock, std::min(N, b1 * kColBlock), y);
  });
}

template <class L>
void convert_rows(const uint8_t* w, int64_t K, int64_t r0, int64_t n, float* dst) {
  const int64_t total = n * K, base = r0 * K;
  int64_t i = 0;
  for (; i + 8 <= total; i += 8) _mm256_storeu_ps(dst + i, L::load8(w, base + i));
  for (; i < total; ++i) dst[i] = L::load1(w, base + i);
}

}  // namespace

void convert_rows_f32(const WeightMatrix& w, int64_t r0, int64_t n, float* dst) {
  switch (w.dtype) {
    case DType::BF16: convert_rows<LoadBf16>(w.data, w.cols, r0, n, dst); return;
    case DType::F16: convert_rows<LoadF16>(w.data, w.cols, r0, n, dst); return;
    default: convert_rows<LoadF32>(w.data, w.cols, r0, n, dst); return;
  }
}

void matmul_direct(const float* x, int64_t M, const WeightMatrix& w, float* y, ThreadPool& pool) {
  if (M <= 0) return;
  switch (w.dtype) {
    case DType::BF16: direct<LoadBf16>(x, M, w, y, pool); return;
    case DType::F16: direct<LoadF16>(x, M, w, y, pool); return;
    default: direct<LoadF32>(x, M, w, y, pool); return;
  }
}

namespace {
std::mutex blas_mutex;
int blas_guards = 0;
int blas_saved_threads = 1;
}  // namespace

BlasSingleThreaded::BlasSingleThreaded() {
  std::lock_guard<std::mutex> lock(blas_mutex);
  if (blas_guards++ == 0) {
    blas_saved_threads = openblas_get_num_threads();
    if (blas_saved_threads != 1) openblas_set_num_threads(1);
  }
}

BlasSingleThreaded::~BlasSingleThreaded() {
  std::lock_guard<std::mutex> lock(blas_mutex);
  if (--blas_guards == 0 && blas_saved_threads != 1) openblas_set_num_threads(blas_saved_threads);
}

void matmul_blas(const float* x, int64_t M, const WeightMatrix& w, float* y, ThreadPool& pool,
                 std::vector<std::vector<float>>& scratch) {
  if (M <= 0) return;
  const int64_t N = w.rows, K = w.cols;
  const bool f32_aligned = w.dtype == DType::F32 && reinterpret_cast<uintptr_t>(w.data) % alignof(float) == 0;
  // Weight rows per work item: at most ~1 MiB of float32 per thread (cache-sized, and
  // wide enough that sgemm's packing of x is amortised), at most ~1/threads of N.
  int64_t nb = std::clamp<int64_t>((int64_t{1} << 18) / std::max<int64_t>(K, 1), 16, 1024);
  nb = std::min(nb, (N + pool.size() - 1) / pool.size());
  nb = std::max<int64_t>(16, (nb + 15) / 16 * 16);
  if (scratch.size() < static_cast<size_t>(pool.size())) scratch.resize(static_cast<size_t>(pool.size()));
  BlasSingleThreaded single;
  const int64_t items = (N + nb - 1) / nb;
  pool.parallel_for(items, 1, [&](int64_t i0, int64_t i1, int t) {
    std::vector<float>& buf = scratch[static_cast<size_t>(t)];
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n0 = i * nb, nn = std::min(nb, N - n0);
      const float* wf;
      if (f32_aligned) {
        wf = reinterpret_cast<const float*>(w.data) + n0 * K;
      } else {
        if (buf.size() < static_cast<size_t>(nn * K)) buf.resize(static_cast<size_t>(nb * K));
        convert_rows_f32(w, n0, nn, buf.data());
        wf = buf.data();
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(nn),
                  static_cast<int>(K), 1.0f, x, static_cast<int>(K), wf, static_cast<int>(K), 0.0f, y + n0,
                  static_cast<int>(N));
    }
  });
}

void Matmul::operator()(const float* x, int64_t M, const WeightMatrix& w, float* y) {
  if (M >= gemm_min_rows_) matmul_blas(x, M, w, y, pool_, scratch_);
  else matmul_direct(x, M, w, y, pool_);
}

}  // namespace emu35::lm
