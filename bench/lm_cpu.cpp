// CPU transformer speed: prefill tokens/s and decode time per step (batch 1, and
// batch 2 = a CFG pair) for the fixture model and a random mid-size model (hidden
// 1024, 8 layers, 16 x 64 heads, 4 KV heads, intermediate 2816, vocab 151918, bf16)
// written once to a temp folder. Arguments: {tokens or context, threads (0 = all)}.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "lm/cpu_matmul.h"
#include "lm/lm_weights.h"
#include "lm/random_checkpoint.h"
#include "lm/runner.h"

namespace fs = std::filesystem;
using namespace emu35;

namespace {

fs::path fixtures() {
  const char* env = std::getenv("EMU35_FIXTURES");
  return env && *env ? fs::path(env) : fs::path(EMU35_FIXTURES_DEFAULT);
}

std::shared_ptr<const lm::LmWeights> fixture_model() {
  static auto w = lm::LmWeights::load(fixtures() / "model");
  return w;
}

// Removes the temp checkpoint at exit.
struct TempModel {
  fs::path dir;
  ~TempModel() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::shared_ptr<const lm::LmWeights> mid_model() {
  static TempModel tmp;
  static std::shared_ptr<const lm::LmWeights> w = [] {
    Emu3Config c;
    c.vocab_size = 151918;
    c.hidden_size = 1024;
    c.intermediate_size = 2816;
    c.num_hidden_layers = 8;
    c.num_attention_heads = 16;
    c.num_key_value_heads = 4;
    c.head_dim = 64;
    c.max_position_embeddings = 4096;
    tmp.dir = fs::temp_directory_path() / ("emu35-bench-lm-" + std::to_string(getpid()));
    lm::RandomCheckpointOptions o;
    o.seed = 3;
    lm::write_random_checkpoint(tmp.dir, c, o);
    return lm::LmWeights::load(tmp.dir);
  }();
  return w;
}

std::vector<int32_t> ids(int n, int vocab, uint32_t seed = 1) {
  std::vector<int32_t> v;
  for (int i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    v.push_back(static_cast<int32_t>((seed >> 8) % static_cast<uint32_t>(vocab)));
  }
  return v;
}

// One prefill of state.range(0) tokens into a fresh slot per iteration.
void prefill(benchmark::State& state, std::shared_ptr<const lm::LmWeights> w) {
  const int n = static_cast<int>(state.range(0));
  auto r = lm::make_cpu_runner(w, static_cast<int>(state.range(1)));
  const std::vector<int32_t> prompt = ids(n, r->vocab_size());
  std::vector<float> logits(static_cast<size_t>(r->vocab_size()));
  for (auto _ : state) {
    const int slot = r->new_slot(n);
    const lm::LmRow row{slot, prompt};
    r->forward({&row, 1}, logits.data());
    r->free_slot(slot);
  }
  state.counters["tok/s"] =
      benchmark::Counter(static_cast<double>(n) * state.iterations(), benchmark::Counter::kIsRate);
}

// Decode steps of `batch` rows (each its own slot) after a state.range(0)-token prompt;
// one iteration = one forward = one token per row.
void decode(benchmark::State& state, std::shared_ptr<const lm::LmWeights> w, int batch) {
  const int ctx = static_cast<int>(state.range(0));
  const int steps_per_fill = 256;
  auto r = lm::make_cpu_runner(w, static_cast<int>(state.range(1)));
  const int V = r->vocab_size();
  const std::vector<int32_t> prompt = ids(ctx, V), next = ids(steps_per_fill, V, 7);
  std::vector<float> logits(static_cast<size_t>(batch) * V);
  std::vector<int> slots;
  auto refill = [&] {
    for (int s : slots) r->free_slot(s);
    slots.clear();
    std::vector<lm::LmRow> rows;
    for (int b = 0; b < batch; ++b) slots.push_back(r->new_slot(ctx + steps_per_fill));
    for (int b = 0; b < batch; ++b) rows.push_back({slots[static_cast<size_t>(b)], prompt});
    r->forward(rows, logits.data());
  };
  refill();
  int step = 0;
  for (auto _ : state) {
    if (step == steps_per_fill) {
      state.PauseTiming();
      refill();
      step = 0;
      state.ResumeTiming();
    }
    std::vector<lm::LmRow> rows;
    for (int b = 0; b < batch; ++b)
      rows.push_back({slots[static_cast<size_t>(b)], {&next[static_cast<size_t>(step)], 1}});
    r->forward(rows, logits.data());
    ++step;
  }
  state.counters["tok/s"] =
      benchmark::Counter(static_cast<double>(batch) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_Fixture_Prefill(benchmark::State& s) { prefill(s, fixture_model()); }
void BM_Fixture_Decode_B1(benchmark::State& s) { decode(s, fixture_model(), 1); }
void BM_Fixture_Decode_B2(benchmark::State& s) { decode(s, fixture_model(), 2); }
void BM_Mid_Prefill(benchmark::State& s) { prefill(s, mid_model()); }
void BM_Mid_Decode_B1(benchmark::State& s) { decode(s, mid_model(), 1); }
void BM_Mid_Decode_B2(benchmark::State& s) { decode(s, mid_model(), 2); }

BENCHMARK(BM_Fixture_Prefill)->Args({25, 0})->Args({512, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Fixture_Decode_B1)->Args({64, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Fixture_Decode_B2)->Args({64, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Mid_Prefill)
    ->Args({128, 0})
    ->Args({512, 0})
    ->Args({128, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK(BM_Mid_Decode_B1)->Args({128, 0})->Args({128, 1})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);
BENCHMARK(BM_Mid_Decode_B2)->Args({128, 0})->Args({128, 1})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);

// One matmul of the mid-size model's MLP shape (2816 x 1024, bf16) on M rows through
// either path: where the sgemm path starts to win (gemm_min_rows).
void matmul(benchmark::State& state, bool blas) {
  const int64_t M = state.range(0), N = 2816, K = 1024;
  static std::vector<uint16_t> wbits = [] {
    std::vector<uint16_t> b(static_cast<size_t>(2816 * 1024));
    uint32_t s = 1;
    for (auto& v : b) v = static_cast<uint16_t>(0x3c00 + ((s = s * 1664525u + 1013904223u) >> 24));
    return b;
  }();
  TensorView tv;
  tv.dtype = DType::BF16;
  tv.shape = {N, K};
  tv.data = reinterpret_cast<const uint8_t*>(wbits.data());
  const lm::WeightMatrix w{&tv, DType::BF16, tv.data, N, K};
  std::vector<float> x(static_cast<size_t>(M * K), 0.01f), y(static_cast<size_t>(M * N));
  lm::ThreadPool pool(static_cast<int>(state.range(1)) > 0 ? static_cast<int>(state.range(1))
                                                            : static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::vector<float>> scratch;
  for (auto _ : state) {
    if (blas) lm::matmul_blas(x.data(), M, w, y.data(), pool, scratch);
    else lm::matmul_direct(x.data(), M, w, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * M * N * K * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}
void BM_Matmul_Direct(benchmark::State& s) { matmul(s, false); }
void BM_Matmul_Blas(benchmark::State& s) { matmul(s, true); }
BENCHMARK(BM_Matmul_Direct)
    ->ArgsProduct({{1, 2, 4, 8, 16, 32, 64}, {0}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_Matmul_Blas)->ArgsProduct({{1, 2, 4, 8, 16, 32, 64}, {0}})->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
