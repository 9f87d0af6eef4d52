// Batched and unbatched runs of the same sequences give the same logits: rows in one
// forward (prefill mixed with decode, different lengths, any order) do not affect
// each other.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "lm/cpu_runner.h"
#include "lm/lm_weights.h"
#include "test_support.h"

namespace emu35::test {
namespace {

using lm::CpuRunner;
using lm::CpuRunnerOptions;
using lm::LmRow;

std::shared_ptr<const lm::LmWeights> fixture_weights() {
  static auto w = lm::LmWeights::load(fixture("model"));
  return w;
}

std::vector<int32_t> some_ids(int n, uint32_t seed, int vocab) {
  std::vector<int32_t> v;
  for (int i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    v.push_back(static_cast<int32_t>((seed >> 8) % static_cast<uint32_t>(vocab)));
  }
  return v;
}

// A schedule: steps of (sequence, token count); each step is one forward.
using Step = std::vector<std::pair<int, int>>;

struct Outcome {
  std::map<std::pair<int, int>, std::vector<float>> logits;  // (step, sequence) -> logits
};

// Runs the schedule batched (one forward per step) or unbatched (one forward per row).
Outcome run(const CpuRunnerOptions& opts, const std::vector<Step>& steps, bool batched) {
  CpuRunner r(fixture_weights(), opts);
  const int V = r.vocab_size();
  const int nseq = 3;
  std::vector<std::vector<int32_t>> seqs;
  for (int s = 0; s < nseq; ++s) seqs.push_back(some_ids(40, 17u + 101u * s, V));
  std::vector<int> slots, used(nseq, 0);
  for (int s = 0; s < nseq; ++s) slots.push_back(r.new_slot(40));
  Outcome out;
  for (size_t i = 0; i < steps.size(); ++i) {
    std::vector<LmRow> rows;
    for (auto [s, n] : steps[i]) {
      rows.push_back({slots[s], std::span<const int32_t>(seqs[s]).subspan(used[s], n)});
      used[s] += n;
    }
    if (batched) {
      std::vector<float> lg(rows.size() * V);
      r.forward(rows, lg.data());
      for (size_t k = 0; k < rows.size(); ++k)
        out.logits[{static_cast<int>(i), steps[i][k].first}].assign(lg.begin() + k * V, lg.begin() + (k + 1) * V);
    } else {
      for (size_t k = 0; k < rows.size(); ++k) {
        std::vector<float> lg(V);
        r.forward({&rows[k], 1}, lg.data());
        out.logits[{static_cast<int>(i), steps[i][k].first}] = lg;
      }
    }
  }
  for (int s = 0; s < nseq; ++s) EXPECT_EQ(r.slot_length(slots[s]), used[s]);
  return out;
}

const std::vector<Step> kMixed = {
    {{0, 10}, {1, 5}, {2, 17}},  // three prefills of different lengths
    {{0, 1}, {1, 4}, {2, 1}},    // decode, prefill and decode in one forward
    {{0, 1}, {1, 1}, {2, 1}},    // decode batch
    {{2, 1}, {0, 1}, {1, 1}},    // rows in another order
    {{2, 1}, {0, 3}},            // a subset
};

void expect_identical(const Outcome& a, const Outcome& b) {
  ASSERT_EQ(a.logits.size(), b.logits.size());
  for (auto& [key, la] : a.logits) {
    const auto& lb = b.logits.at(key);
    ASSERT_EQ(la.size(), lb.size());
    EXPECT_EQ(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)), 0)
        << "step " << key.first << " sequence " << key.second << ": rel diff "
        << rel_max_error(la.data(), lb.data(), la.size());
  }
}

// Our kernel only: bit-identical whatever the batch.
TEST(LmBatch, DirectKernelBitIdentical) {
  CpuRunnerOptions o;
  o.gemm_min_rows = 1 << 30;
  expect_identical(run(o, kMixed, true), run(o, kMixed, false));
}

// Internal passes of 4 tokens (rows split across passes, several rows ending in one
// pass) against whole rows one at a time: bit-identical.
TEST(LmBatch, SmallPassesBitIdentical) {
  CpuRunnerOptions a, b;
  a.gemm_min_rows = b.gemm_min_rows = 1 << 30;
  a.max_chunk_tokens = 4;
  expect_identical(run(a, kMixed, true), run(b, kMixed, false));
}

// Our kernel with a different thread count: still bit-identical.
TEST(LmBatch, DirectKernelIndependentOfThreads) {
  CpuRunnerOptions a, b;
  a.gemm_min_rows = b.gemm_min_rows = 1 << 30;
  a.num_threads = 1;
  b.num_threads = 3;
  expect_identical(run(a, kMixed, true), run(b, kMixed, false));
}

// sgemm's summation order may depend on the row count, and with default options a
// row's path (sgemm for prefill-sized passes, our kernel below) can differ between
// the batched and unbatched runs. They agree to float rounding (measured ~5e-7).
void expect_close(const Outcome& a, const Outcome& b) {
  for (auto& [key, la] : a.logits) {
    const double e = rel_max_error(la.data(), b.logits.at(key).data(), la.size());
    EXPECT_LE(e, 1e-5) << "step " << key.first << " sequence " << key.second;
  }
}

TEST(LmBatch, DefaultOptionsAgree) { expect_close(run({}, kMixed, true), run({}, kMixed, false)); }

TEST(LmBatch, SgemmPathAgrees) {
  CpuRunnerOptions o;
  o.gemm_min_rows = 1;
  expect_close(run(o, kMixed, true), run(o, kMixed, false));
}

// Default options, same prefills, then decode steps batched vs one at a time (the
// CFG pattern): bit-identical.
TEST(LmBatch, DefaultOptionsDecodeBitIdentical) {
  const std::vector<Step> steps = {{{0, 10}}, {{1, 21}}, {{2, 3}},  // separate prefills
                                   {{0, 1}, {1, 1}, {2, 1}}, {{1, 1}, {0, 1}}, {{0, 1}, {1, 1}, {2, 1}}};
  expect_identical(run({}, steps, true), run({}, steps, false));
}

}  // namespace
}  // namespace emu35::test
