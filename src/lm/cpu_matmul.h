// y = x W^T for a weight matrix in its stored dtype (bf16 / f16 / f32), float32 math.
//  - Few rows (decode): our AVX2/FMA kernel converts weights on the fly and reads each
//    weight row once for all rows of the batch. Every output element is summed in the
//    same order whatever the number of rows, the tiling or the thread count, so a
//    row's result never depends on what else is in the batch.
//  - Many rows (prefill): each pool thread converts a slice of weight rows to float32
//    in its own scratch buffer and multiplies it with a single-threaded OpenBLAS
//    sgemm (no float32 copy of the whole model; one set of threads, no
//    oversubscription between the pool and OpenBLAS's own threads).
#pragma once
#include <cstdint>
#include <vector>

#include "lm/lm_weights.h"
#include "lm/thread_pool.h"

namespace emu35::lm {

// Rows [r0, r0 + n) of w as float32 into dst (n * w.cols floats).
void convert_rows_f32(const WeightMatrix& w, int64_t r0, int64_t n, float* dst);

// y[m * w.rows + j] = sum_k x[m * w.cols + k] * W[j, k], our kernel, for any M.
void matmul_direct(const float* x, int64_t M, const WeightMatrix& w, float* y, ThreadPool& pool);

// Same product through sgemm; scratch[t] is thread t's float32 weight buffer.
void matmul_blas(const float* x, int64_t M, const WeightMatrix& w, float* y, ThreadPool& pool,
                 std::vector<std::vector<float>>& scratch);

// While alive, OpenBLAS runs single-threaded (our pool threads call it side by side).
// Process-wide and nestable; the previous thread count comes back with the last guard.
class BlasSingleThreaded {
 public:
  BlasSingleThreaded();
  ~BlasSingleThreaded();
  BlasSingleThreaded(const BlasSingleThreaded&) = delete;
  BlasSingleThreaded& operator=(const BlasSingleThreaded&) = delete;
};

// Picks matmul_direct below gemm_min_rows rows, matmul_blas from there on.
class Matmul {
 public:
  static constexpr int kDefaultGemmMinRows = 16;
  Matmul(ThreadPool& pool, int gemm_min_rows) : pool_(pool), gemm_min_rows_(gemm_min_rows) {}
  void operator()(const float* x, int64_t M, const WeightMatrix& w, float* y);
  int gemm_min_rows() const { return gemm_min_rows_; }

 private:
  ThreadPool& pool_;
  int gemm_min_rows_;
  std::vector<std::vector<float>> scratch_;
};

}  // namespace emu35::lm
