// Threading for the IBQ CPU path: OpenMP only. Every GEMM is split into
// independent tiles, one single-threaded cblas_sgemm per tile, so OpenBLAS's
// own thread pool stays asleep. Mixing the two pools (OpenMP threads spinning
// after a region while OpenBLAS threads want the same cores) was measured
// 2-10x slower on a busy machine.
#pragma once

namespace emu35::vq {

// Threads the IBQ layers use (OpenMP's max threads, i.e. OMP_NUM_THREADS or all cores).
int num_threads();

// While alive, OpenBLAS runs every call on the calling thread; the previous
// setting comes back when the last scope ends. Scopes nest and may overlap
// across threads.
class BlasSingleThreaded {
 public:
  BlasSingleThreaded();
  ~BlasSingleThreaded();
  BlasSingleThreaded(const BlasSingleThreaded&) = delete;
  BlasSingleThreaded& operator=(const BlasSingleThreaded&) = delete;
};

// Work below this many scalar operations runs on one thread.
inline constexpr long kMinParallelWork = 1L << 15;

}  // namespace emu35::vq
