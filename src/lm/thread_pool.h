// A small fork-join thread pool for the CPU runner's kernels. Workers spin for a
// short while after each job (the next one usually follows within microseconds)
// and then sleep, so the pool never burns cores while BLAS or other code runs -
// unlike OpenMP's default active waiting, which collapses on a busy machine.
#pragma once
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace emu35::lm {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads - 1 workers; the calling thread is thread 0
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }

  // Calls f(begin, end, thread) over [0, n) in pieces of at most `grain`, handed out
  // on demand (one call over everything when the pool has a single thread or
  // n <= grain); returns when all are done. Not reentrant: f must not call back into
  // this pool, and only one thread may drive the pool at a time.
  template <class F>
  void parallel_for(int64_t n, int64_t grain, F&& f) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (threads_ == 1 || n <= grain) {
      f(int64_t{0}, n, 0);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run(n, grain, const_cast<void*>(static_cast<const void*>(&f)), [](void* ctx, int64_t b, int64_t e, int t) {
      (*static_cast<Fn*>(ctx))(b, e, t);
    });
  }

  // Splits n items into about 4 pieces per thread (at least min_grain items each).
  int64_t grain_for(int64_t n, int64_t min_grain = 1) const {
    const int64_t g = (n + 4 * threads_ - 1) / (4 * threads_);
    return g < min_grain ? min_grain : g;
  }

 private:
  using Call = void (*)(void*, int64_t, int64_t, int);
  void run(int64_t n, int64_t grain, void* ctx, Call call);
  void work(int thread);
  void worker_loop(int thread);

  int threads_;
  std::vector<std::thread> workers_;
  // The current job (written before gen_ is bumped, read after it is seen).
  void* ctx_ = nullptr;
  Call call_ = nullptr;
  int64_t n_ = 0, grain_ = 1;
  bool stop_ = false;
  alignas(64) std::atomic<int64_t> next_{0};
  alignas(64) std::atomic<uint32_t> gen_{0};
  alignas(64) std::atomic<int32_t> active_{0};
};

}  // namespace emu35::lm
