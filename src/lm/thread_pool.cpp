#include "lm/thread_pool.h"

#include <immintrin.h>

#include <chrono>

namespace emu35::lm {

namespace {

// Spins up to ~kSpinMicros waiting for pred(); false when the time ran out.
constexpr int kSpinMicros = 100;

template <class P>
bool spin_until(P pred) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 1;; ++i) {
    if (pred()) return true;
    _mm_pause();
    if ((i & 255) == 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::microseconds(kSpinMicros))
      return false;
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  workers_.reserve(static_cast<size_t>(threads_ - 1));
  for (int t = 1; t < threads_; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  gen_.fetch_add(1, std::memory_order_release);
  gen_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::work(int thread) {
  for (;;) {
    const int64_t b = next_.fetch_add(grain_, std::memory_order_relaxed);
    if (b >= n_) return;
    call_(ctx_, b, b + grain_ < n_ ? b + grain_ : n_, thread);
  }
}

void ThreadPool::worker_loop(int thread) {
  uint32_t seen = 0;
  for (;;) {
    if (!spin_until([&] { return gen_.load(std::memory_order_acquire) != seen; })) {
      while (gen_.load(std::memory_order_acquire) == seen) gen_.wait(seen, std::memory_order_acquire);
    }
    seen = gen_.load(std::memory_order_acquire);
    if (stop_) return;
    work(thread);
    if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) active_.notify_one();
  }
}

void ThreadPool::run(int64_t n, int64_t grain, void* ctx, Call call) {
  ctx_ = ctx;
  call_ = call;
  n_ = n;
  grain_ = grain;
  next_.store(0, std::memory_order_relaxed);
  active_.store(threads_ - 1, std::memory_order_relaxed);
  gen_.fetch_add(1, std::memory_order_release);
  gen_.notify_all();
  work(0);
  if (!spin_until([&] { return active_.load(std::memory_order_acquire) == 0; })) {
    for (int32_t v; (v = active_.load(std::memory_order_acquire)) != 0;) active_.wait(v, std::memory_order_acquire);
  }
}

}  // namespace emu35::lm
