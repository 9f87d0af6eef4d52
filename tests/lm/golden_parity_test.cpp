// Parity with the upstream model (transformer_golden.safetensors, the fixture model):
// final hidden states and logits of the prompt, then logits after each decode token
// fed one at a time through the KV cache. Bound: max abs error <= 1e-4 x max |ref|.
#include <gtest/gtest.h>

#include <limits>

#include "lm/cpu_runner.h"
#include "lm/lm_weights.h"
#include "lm_test_util.h"
#include "test_support.h"

namespace emu35::test {
namespace {

using lm::CpuRunner;
using lm::CpuRunnerOptions;
using lm::LmRow;

constexpr double kBound = 1e-4;

std::shared_ptr<const lm::LmWeights> fixture_weights() {
  static auto w = lm::LmWeights::load(fixture("model"));
  return w;
}

// Runs the golden scenario with the given options and checks every tensor.
void check_golden(const CpuRunnerOptions& opts) {
  const Golden& g = golden();
  auto W = fixture_weights();
  CpuRunner runner(W, opts);
  const int64_t V = runner.vocab_size(), H = W->config().hidden_size;
  const int64_t T = static_cast<int64_t>(g.input_ids.size());
  ASSERT_EQ(static_cast<int64_t>(g.prefill_final_hidden.size()), T * H);

  const int slot = runner.new_slot(static_cast<int>(T + g.decode_ids.size()));
  std::vector<float> last(V), hidden, all_logits;
  const LmRow prompt{slot, g.input_ids};
  runner.forward_all({&prompt, 1}, last.data(), &hidden, &all_logits);
  EXPECT_EQ(runner.slot_length(slot), T);

  const double eh = rel_max_error(hidden.data(), g.prefill_final_hidden.data(), hidden.size());
  EXPECT_LE(eh, kBound) << "prefill_final_hidden";
  std::cout << "  prefill_final_hidden rel err " << eh << "\n";
  for (size_t i = 0; i < g.prefill_positions.size(); ++i) {
    const int64_t p = g.prefill_positions[i];
    ASSERT_LT(p, T);
    const double e = rel_max_error(all_logits.data() + p * V, g.prefill_logits.data() + i * V, V);
    EXPECT_LE(e, kBound) << "prefill_logits at position " << p;
    std::cout << "  prefill_logits[pos " << p << "] rel err " << e << "\n";
    if (p == T - 1) {
      const double el = rel_max_error(last.data(), g.prefill_logits.data() + i * V, V);
      EXPECT_LE(el, kBound) << "last-token logits returned by forward";
    }
  }

  for (size_t i = 0; i < g.decode_ids.size(); ++i) {
    const int32_t id = g.decode_ids[i];
    const LmRow step{slot, {&id, 1}};
    std::fill(last.begin(), last.end(), std::numeric_limits<float>::quiet_NaN());
    runner.forward({&step, 1}, last.data());
    const double e = rel_max_error(last.data(), g.decode_logits.data() + i * V, V);
    EXPECT_LE(e, kBound) << "decode_logits step " << i;
    std::cout << "  decode_logits[" << i << "] rel err " << e << "\n";
  }
  EXPECT_EQ(runner.slot_length(slot), T + static_cast<int64_t>(g.decode_ids.size()));
}

TEST(LmGolden, DefaultOptions) { check_golden({}); }

TEST(LmGolden, AlwaysSgemmPath) {
  CpuRunnerOptions o;
  o.gemm_min_rows = 1;
  check_golden(o);
}

TEST(LmGolden, NeverSgemmPathSingleThread) {
  CpuRunnerOptions o;
  o.gemm_min_rows = 1 << 30;
  o.num_threads = 1;
  check_golden(o);
}

TEST(LmGolden, PrefillInSmallChunks) {
  CpuRunnerOptions o;
  o.max_chunk_tokens = 7;  // the prompt crosses several internal passes
  check_golden(o);
}

// The whole sequence (prompt + decode ids) as one prefill: the logits at the decode
// positions equal the step-by-step decode references.
TEST(LmGolden, OnePrefillMatchesDecodeSteps) {
  const Golden& g = golden();
  CpuRunner runner(fixture_weights(), {});
  const int64_t V = runner.vocab_size();
  std::vector<int32_t> ids = g.input_ids;
  ids.insert(ids.end(), g.decode_ids.begin(), g.decode_ids.end());
  const int slot = runner.new_slot(static_cast<int>(ids.size()));
  std::vector<float> hidden, all;
  const LmRow row{slot, ids};
  runner.forward_all({&row, 1}, nullptr, &hidden, &all);
  const int64_t T = static_cast<int64_t>(g.input_ids.size());
  for (size_t i = 0; i < g.decode_ids.size(); ++i)
    EXPECT_LE(rel_max_error(all.data() + (T + static_cast<int64_t>(i)) * V, g.decode_logits.data() + i * V, V), kBound)
        << "decode position " << i;
}

}  // namespace
}  // namespace emu35::test
