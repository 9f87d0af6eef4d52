// The runner's fork-join pool: every index exactly once, job after job, with the
// calling thread taking part and thread ids in range.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "lm/thread_pool.h"

namespace emu35::test {
namespace {

TEST(LmThreadPool, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 5}) {
    lm::ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 7, 100, 1000}) {
      for (int64_t grain : {1, 3, 64}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<bool> bad_thread{false};
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e, int t) {
          if (t < 0 || t >= threads || b >= e || (threads > 1 && e - b > grain)) bad_thread = true;
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        });
        EXPECT_FALSE(bad_thread);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n " << n << " i " << i;
      }
    }
  }
}

TEST(LmThreadPool, ManyShortJobsAndIdleGaps) {
  lm::ThreadPool pool(3);
  int64_t total = 0;
  for (int job = 0; job < 2000; ++job) {
    std::atomic<int64_t> sum{0};
    pool.parallel_for(50, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum += i;
    });
    total += sum.load();
    if (job % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // workers fall asleep
  }
  EXPECT_EQ(total, 2000 * (49 * 50 / 2));
}

TEST(LmThreadPool, UsesSeveralThreads) {
  lm::ThreadPool pool(2);
  std::atomic<int> seen_mask{0};
  for (int rep = 0; rep < 200 && seen_mask.load() != 3; ++rep)
    pool.parallel_for(64, 1, [&](int64_t, int64_t, int t) {
      seen_mask |= 1 << t;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    });
  EXPECT_EQ(seen_mask.load(), 3);
}

}  // namespace
}  // namespace emu35::test
