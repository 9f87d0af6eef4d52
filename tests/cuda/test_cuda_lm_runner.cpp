// The whole GPU runner against the CPU runner on random small models (fp32
// within 1e-4, bf16 within 2e-2), the fixture's golden logits in fp32,
// batched vs unbatched, CUDA graph replay vs eager (bit-identical),
// programmatic launch and the fused decode path, pass chunking, embedding
// placement, and the error paths.
#include <gtest/gtest.h>

#ifdef EMU35_HAVE_CUDA
#include <cmath>
#include <cstdlib>
#include <map>

#include "common/error.h"
#include "cuda/lm_cuda_runner.h"
#include "formats/safetensors.h"
#include "lm/runner.h"
#include "test_cuda_lm_util.h"

namespace emu35::cuda_lm_test {
namespace {

using cuda::CudaRunner;
using cuda::CudaRunnerOptions;
using cuda::Precision;

// Steps of (sequence, token count); each step is one forward.
using Step = std::vector<std::pair<int, int>>;

const std::vector<Step> kSchedule = {
    {{0, 10}, {1, 5}, {2, 17}},                    // three prefills of different lengths
    {{0, 1}, {1, 4}, {2, 1}},                      // decode, prefill and decode in one forward
    {{0, 1}, {1, 1}, {2, 1}},                      // a decode batch
    {{2, 1}, {0, 1}, {1, 1}},                      // rows in another order
    {{0, 1}, {1, 1}, {2, 1}},   {{2, 1}, {0, 3}},  // a subset
};

// Logits of every (step, sequence), batched (one forward per step) or one row per forward.
std::map<std::pair<int, int>, std::vector<float>> run_schedule(lm::LmRunner& r, const std::vector<Step>& steps,
                                                               bool batched, uint64_t seed) {
  const int V = r.vocab_size(), nseq = 3;
  std::vector<std::vector<int32_t>> seqs;
  for (int s = 0; s < nseq; ++s) seqs.push_back(some_ids(60, seed + 101 * s, V));
  std::vector<int> slots, used(nseq, 0);
  for (int s = 0; s < nseq; ++s) slots.push_back(r.new_slot(60));
  std::map<std::pair<int, int>, std::vector<float>> out;
  for (size_t i = 0; i < steps.size(); ++i) {
    std::vector<lm::LmRow> rows;
    for (auto [s, n] : steps[i]) {
      rows.push_back(
          {slots[size_t(s)], std::span<const int32_t>(seqs[size_t(s)]).subspan(size_t(used[size_t(s)]), size_t(n))});
      used[size_t(s)] += n;
    }
    if (batched) {
      std::vector<float> lg(rows.size() * size_t(V));
      r.forward(rows, lg.data());
      for (size_t k = 0; k < rows.size(); ++k)
        out[{int(i), steps[i][k].first}].assign(lg.begin() + k * V, lg.begin() + (k + 1) * V);
    } else {
      for (size_t k = 0; k < rows.size(); ++k) {
        std::vector<float> lg(static_cast<size_t>(V));
        r.forward({&rows[k], 1}, lg.data());
        out[{int(i), steps[i][k].first}] = lg;
      }
    }
  }
  for (int s = 0; s < nseq; ++s) EXPECT_EQ(r.slot_length(slots[size_t(s)]), used[size_t(s)]);
  for (int s : slots) r.free_slot(s);
  return out;
}

void expect_close(const std::map<std::pair<int, int>, std::vector<float>>& got,
                  const std::map<std::pair<int, int>, std::vector<float>>& ref, double bound, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size());
  double worst = 0;
  for (const auto& [key, r] : ref) {
    const double e = rel_err(got.at(key), r);
    worst = std::max(worst, e);
    EXPECT_LE(e, bound) << what << ": step " << key.first << " sequence " << key.second;
  }
  std::cout << "  " << what << ": worst rel err " << worst << "\n";
}

CudaRunnerOptions opts(Precision p) {
  CudaRunnerOptions o;
  o.precision = p;
  o.progress = false;
  return o;
}

TEST(CudaLmRunner, MatchesCpuRunnerOnRandomModels) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  for (const Emu3Config& cfg : {config_tiny(), config_hd64(), config_hd128()}) {
    SCOPED_TRACE("head_dim " + std::to_string(cfg.head_dim));
    RandomModel m = random_model(cfg, seed);
    auto cpu = lm::make_cpu_runner(m.weights);
    const auto ref = run_schedule(*cpu, kSchedule, true, seed);
    for (Precision p : {Precision::FP32, Precision::BF16}) {
      CudaRunner gpu(m.weights, opts(p));
      expect_close(run_schedule(gpu, kSchedule, true, seed), ref, p == Precision::FP32 ? 1e-4 : 2e-2,
                   std::string(cuda::precision_name(p)) + " hd " + std::to_string(cfg.head_dim));
    }
  }
}

TEST(CudaLmRunner, StoredF16AndF32CheckpointsLoad) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  for (DType dt : {DType::F16, DType::F32}) {
    RandomModel m = random_model(config_hd64(), seed, dt);
    auto cpu = lm::make_cpu_runner(m.weights);
    const auto ref = run_schedule(*cpu, kSchedule, true, seed);
    CudaRunner f32(m.weights, opts(Precision::FP32)), b16(m.weights, opts(Precision::BF16));
    expect_close(run_schedule(f32, kSchedule, true, seed), ref, 1e-4, std::string(dtype_name(dt)) + " as fp32");
    expect_close(run_schedule(b16, kSchedule, true, seed), ref, 2e-2, std::string(dtype_name(dt)) + " as bf16");
  }
}

TEST(CudaLmRunner, FixtureGoldenLogitsInFp32) {
  EMU35_REQUIRE_GPU();
  auto W = lm::LmWeights::load(test::fixture("model"));
  SafeTensors st = SafeTensors::open(test::fixture("transformer_golden.safetensors"));
  const auto i64 = [&](const char* n) {
    auto v = st.to_i64(n);
    return std::vector<int32_t>(v.begin(), v.end());
  };
  const std::vector<int32_t> input = i64("input_ids"), decode = i64("decode_ids");
  const std::vector<int64_t> positions = st.to_i64("prefill_positions");
  const std::vector<float> prefill_logits = st.to_f32("prefill_logits"), decode_logits = st.to_f32("decode_logits");
  CudaRunner r(W, opts(Precision::FP32));
  const int V = r.vocab_size();
  const auto row = [&](const std::vector<float>& all, size_t i) {
    return std::vector<float>(all.begin() + i * V, all.begin() + (i + 1) * V);
  };
  // Prefill logits at each golden position: a prompt cut right after it.
  for (size_t i = 0; i < positions.size(); ++i) {
    const int slot = r.new_slot(int(input.size()));
    const lm::LmRow rw{slot, std::span<const int32_t>(input).first(size_t(positions[i]) + 1)};
    std::vector<float> lg(static_cast<size_t>(V));
    r.forward({&rw, 1}, lg.data());
    EXPECT_LE(rel_err(lg, row(prefill_logits, i)), 1e-4) << "prefill position " << positions[i];
    r.free_slot(slot);
  }
  const int slot = r.new_slot(int(input.size() + decode.size()));
  const lm::LmRow prompt{slot, input};
  std::vector<float> lg(static_cast<size_t>(V));
  r.forward({&prompt, 1}, lg.data());
  for (size_t i = 0; i < decode.size(); ++i) {
    const lm::LmRow step{slot, {&decode[i], 1}};
    r.forward({&step, 1}, lg.data());
    EXPECT_LE(rel_err(lg, row(decode_logits, i)), 1e-4) << "decode step " << i;
  }
}

TEST(CudaLmRunner, BatchedMatchesUnbatched) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  RandomModel m = random_model(config_hd64(), seed);
  for (Precision p : {Precision::FP32, Precision::BF16}) {
    CudaRunner a(m.weights, opts(p)), b(m.weights, opts(p));
    expect_close(run_schedule(a, kSchedule, true, seed), run_schedule(b, kSchedule, false, seed),
                 p == Precision::FP32 ? 1e-5 : 1e-2, std::string("batched vs unbatched ") + cuda::precision_name(p));
  }
}

TEST(CudaLmRunner, GraphReplayIsBitIdenticalToEager) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  for (const Emu3Config& cfg : {config_hd64(), config_tiny()}) {
    RandomModel m = random_model(cfg, seed);
    for (Precision p : {Precision::BF16, Precision::FP32}) {
      CudaRunnerOptions og = opts(p), oe = opts(p);
      oe.cuda_graphs = false;
      CudaRunner g(m.weights, og), e(m.weights, oe);
      std::vector<Step> steps = {{{0, 9}, {1, 4}, {2, 12}}};
      for (int i = 0; i < 8; ++i) steps.push_back({{0, 1}, {1, 1}, {2, 1}});  // eager, capture, replays
      steps.push_back({{1, 1}, {2, 1}});                                      // another row count
      steps.push_back({{1, 1}, {2, 1}});
      steps.push_back({{1, 1}, {2, 1}});
      const auto a = run_schedule(g, steps, true, seed), b = run_schedule(e, steps, true, seed);
      for (const auto& [key, v] : b) EXPECT_EQ(a.at(key), v) << cuda::precision_name(p) << " step " << key.first;
      EXPECT_GE(g.graphs_captured(), 2);
      EXPECT_EQ(e.graphs_captured(), 0);
    }
  }
}

// Programmatic dependent launch between the decode step's kernels (graphs
// and eager) changes nothing, bit for bit; so does the fused small-batch path
// against cuBLASLt products with separate residual / SwiGLU kernels, up to
// the GEMMs' summation order.
TEST(CudaLmRunner, ProgrammaticLaunchAndFusedDecodeAgree) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  RandomModel m = random_model(config_hd64(), seed);
  std::vector<Step> steps = {{{0, 9}, {1, 4}, {2, 12}}};
  for (int i = 0; i < 6; ++i) steps.push_back({{0, 1}, {1, 1}, {2, 1}});
  for (int i = 0; i < 4; ++i) steps.push_back({{0, 1}, {2, 1}});  // one pair: every product streams
  steps.push_back({{1, 2}});                                       // two tokens of one row: lm_head input gathered
  for (bool graphs : {true, false}) {
    CudaRunnerOptions plain = opts(Precision::BF16), pdl = opts(Precision::BF16);
    plain.cuda_graphs = pdl.cuda_graphs = graphs;
    pdl.programmatic_launch = true;
    CudaRunner a(m.weights, plain), b(m.weights, pdl);
    const auto ra = run_schedule(a, steps, true, seed), rb = run_schedule(b, steps, true, seed);
    for (const auto& [key, v] : ra) EXPECT_EQ(rb.at(key), v) << (graphs ? "graphs" : "eager") << " step " << key.first;
  }
  setenv("EMU35_GEMV", "cublaslt", 1);  // read when the runner's GEMM engine is made
  CudaRunner lt(m.weights, opts(Precision::BF16));
  unsetenv("EMU35_GEMV");
  CudaRunner fused(m.weights, opts(Precision::BF16));
  expect_close(run_schedule(lt, steps, true, seed), run_schedule(fused, steps, true, seed), 1e-2,
               "fused small-batch path vs cuBLASLt");
}

TEST(CudaLmRunner, PassesSplitIntoChunksGiveTheSameLogits) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  RandomModel m = random_model(config_hd64(), seed);
  for (Precision p : {Precision::FP32, Precision::BF16}) {
    CudaRunnerOptions small = opts(p);
    small.max_chunk_tokens = 7;  // rows split across passes, several rows ending in one pass
    CudaRunner a(m.weights, opts(p)), b(m.weights, small);
    expect_close(run_schedule(b, kSchedule, true, seed), run_schedule(a, kSchedule, true, seed),
                 p == Precision::FP32 ? 1e-5 : 1e-2, std::string("chunked ") + cuda::precision_name(p));
  }
}

TEST(CudaLmRunner, EmbeddingOnHostOrDeviceAndAttentionPathsAgree) {
  EMU35_REQUIRE_GPU();
  const uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  RandomModel m = random_model(config_hd128(), seed);
  CudaRunnerOptions dev = opts(Precision::BF16), host = dev, no_tc = dev;
  dev.embedding = cuda::EmbeddingPlacement::Device;
  host.embedding = cuda::EmbeddingPlacement::Host;
  no_tc.prefill_tensor_cores = false;
  CudaRunner a(m.weights, dev), b(m.weights, host), c(m.weights, no_tc);
  EXPECT_TRUE(a.memory().embedding_on_device);
  EXPECT_FALSE(b.memory().embedding_on_device);
  const auto ra = run_schedule(a, kSchedule, true, seed);
  const auto rb = run_schedule(b, kSchedule, true, seed);
  for (const auto& [key, v] : ra) EXPECT_EQ(rb.at(key), v) << "host embedding rows, step " << key.first;
  expect_close(run_schedule(c, kSchedule, true, seed), ra, 1e-2, "prefill through the decode kernel");
}

TEST(CudaLmRunner, BadRowsThrowBeforeAnythingChanges) {
  EMU35_REQUIRE_GPU();
  RandomModel m = random_model(config_tiny(), 7);
  CudaRunner r(m.weights, opts(Precision::FP32));
  const int V = r.vocab_size();
  const int a = r.new_slot(8), b = r.new_slot(4);
  EXPECT_EQ(r.slot_capacity(a), 8);
  std::vector<int32_t> ok = {1, 2, 3}, bad_id = {1, V}, five = {1, 2, 3, 4, 5};
  std::vector<float> lg(size_t(3 * V));
  const auto expect_bad = [&](std::vector<lm::LmRow> rows, const char* what) {
    EXPECT_THROW(r.forward(rows, lg.data()), Error) << what;
    EXPECT_EQ(r.slot_length(a), 0) << what;
    EXPECT_EQ(r.slot_length(b), 0) << what;
  };
  expect_bad({{a, ok}, {99, ok}}, "unknown slot");
  expect_bad({{a, ok}, {a, ok}}, "slot twice");
  expect_bad({{a, {}}}, "no tokens");
  expect_bad({{a, ok}, {b, bad_id}}, "id out of range");
  expect_bad({{a, ok}, {b, five}}, "beyond the slot's capacity");
  EXPECT_THROW(r.new_slot(0), Error);
  EXPECT_THROW(r.new_slot(int(r.config().max_position_embeddings) + 1), Error);
  EXPECT_THROW(r.free_slot(99), Error);
  const lm::LmRow good{a, ok};
  r.forward({&good, 1}, lg.data());
  EXPECT_EQ(r.slot_length(a), 3);
  r.free_slot(a);
  EXPECT_THROW(r.slot_length(a), Error);
  const int c = r.new_slot(6);  // a freed block is reused: the new slot starts empty
  EXPECT_EQ(r.slot_length(c), 0);
  EXPECT_THROW(cuda::parse_precision("fp16"), Error);
}

TEST(CudaLmRunner, TooLargeForTheGpuSaysHowMuchIsNeeded) {
  EMU35_REQUIRE_GPU();
  Emu3Config c = config_hd64();
  c.hidden_size = 65536;  // 2 layers of 65536 x 65536-ish matrices in fp32: far beyond any GPU
  c.intermediate_size = 262144;
  c.vocab_size = 300000;
  CudaRunnerOptions o = opts(Precision::FP32);
  try {
    CudaRunner r(c, 1, o);
    FAIL() << "expected an out-of-memory Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("needs"), std::string::npos) << msg;
    EXPECT_NE(msg.find("free"), std::string::npos) << msg;
    EXPECT_NE(msg.find("weights"), std::string::npos) << msg;
  }
  o.device = 1000;
  EXPECT_THROW(CudaRunner(config_hd64(), 1, o), Error);
}

TEST(CudaLmRunner, RandomWeightsOnTheGpu) {
  // The benchmark constructor: finite logits, deterministic in the seed.
  EMU35_REQUIRE_GPU();
  CudaRunner a(config_hd128(), 5, opts(Precision::BF16)), b(config_hd128(), 5, opts(Precision::BF16));
  EXPECT_FALSE(a.memory().embedding_on_device);
  const auto ra = run_schedule(a, kSchedule, true, 1), rb = run_schedule(b, kSchedule, true, 1);
  for (const auto& [key, v] : ra) {
    EXPECT_EQ(rb.at(key), v);
    for (float x : v) ASSERT_TRUE(std::isfinite(x));
  }
  const int s = a.new_slot(100);
  a.fill_slot_random(s, 90, 3);
  EXPECT_EQ(a.slot_length(s), 90);
  const int32_t id = 5;
  const lm::LmRow row{s, {&id, 1}};
  std::vector<float> lg(size_t(a.vocab_size()));
  a.forward({&row, 1}, lg.data());
  for (float x : lg) ASSERT_TRUE(std::isfinite(x));
}

}  // namespace
}  // namespace emu35::cuda_lm_test

#else
TEST(CudaLmRunner, SkippedWithoutCuda) { GTEST_SKIP() << "built without the CUDA backend"; }
#endif
