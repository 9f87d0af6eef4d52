// CPU times of the IBQ vision tokenizer:
//  - the fixture VQ (ch 32, 64 codes) encoding and decoding a 256x256 picture;
//  - the full-size shape of ../shared/configs/emu3.5-visiontokenizer.yaml
//    (455M parameters) with random weights made in memory, at 512x512
//    (32x32 codes), plus its codebook argmax alone at 1 MP (64x64 latent).
// Full-size runs take minutes on a small machine: filter with
// --benchmark_filter=Fixture to skip them. EMU35_FIXTURES / EMU35_SHARED
// override the data folders; OMP_NUM_THREADS sets the thread count.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>

#include "formats/ibq_config.h"
#include "vq/ibq_model.h"
#include "vq/parallel.h"

namespace fs = std::filesystem;
using emu35::Image;
using emu35::IbqConfig;
using emu35::vq::CodeGrid;
using emu35::vq::FeatureMap;
using emu35::vq::IbqModel;

namespace {

fs::path env_or(const char* var, const char* fallback) {
  const char* v = std::getenv(var);
  return v && *v ? fs::path(v) : fs::path(fallback);
}

const IbqModel& fixture_model() {
  static const IbqModel m = IbqModel::load(env_or("EMU35_FIXTURES", EMU35_FIXTURES_DEFAULT) / "vq");
  return m;
}

const IbqModel& full_model() {
  static const IbqModel m = IbqModel::random(
      IbqConfig::load(env_or("EMU35_SHARED", EMU35_SHARED_DEFAULT) / "configs/emu3.5-visiontokenizer.yaml"), 1);
  return m;
}

Image picture(int side) {
  Image img = Image::blank(side, side);
  std::mt19937 rng(7);
  for (auto& b : img.rgb) b = uint8_t(rng());
  return img;
}

CodeGrid codes(const IbqModel& m, int side) {
  CodeGrid g{side, side, {}};
  std::mt19937 rng(3);
  for (int i = 0; i < side * side; ++i) g.codes.push_back(int32_t(rng() % uint32_t(m.config().n_embed)));
  return g;
}

void set_counters(benchmark::State& state, const IbqModel& m, double pixels) {
  state.counters["threads"] = emu35::vq::num_threads();
  state.counters["Mparams"] = double(m.num_parameters()) / 1e6;
  state.counters["MPix/s"] = benchmark::Counter(pixels / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_FixtureEncode256(benchmark::State& state) {
  const IbqModel& m = fixture_model();
  const Image img = picture(256);
  for (auto _ : state) benchmark::DoNotOptimize(m.encode(img));
  set_counters(state, m, 256.0 * 256);
}

void BM_FixtureDecode256(benchmark::State& state) {
  const IbqModel& m = fixture_model();
  const CodeGrid g = codes(m, 16);
  for (auto _ : state) benchmark::DoNotOptimize(m.decode(g));
  set_counters(state, m, 256.0 * 256);
}

void BM_FullSizeEncode512(benchmark::State& state) {
  const IbqModel& m = full_model();
  const Image img = picture(512);
  for (auto _ : state) benchmark::DoNotOptimize(m.encode(img));
  set_counters(state, m, 512.0 * 512);
}

void BM_FullSizeDecode512(benchmark::State& state) {
  const IbqModel& m = full_model();
  const CodeGrid g = codes(m, 32);
  for (auto _ : state) benchmark::DoNotOptimize(m.decode(g));
  set_counters(state, m, 512.0 * 512);
}

// The dot-product argmax over 131072 codes for 4096 positions (a 1024x1024
// picture): 2 * 4096 * 256 * 131072 = 275 GFLOP.
void BM_FullSizeQuantize1MP(benchmark::State& state) {
  const IbqModel& m = full_model();
  FeatureMap latent(int(m.config().embed_dim), 64, 64);
  std::mt19937 rng(5);
  std::normal_distribution<float> d;
  for (float& v : latent.data) v = d(rng);
  for (auto _ : state) benchmark::DoNotOptimize(m.quantize(latent));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 4096 * double(m.config().embed_dim) * double(m.config().n_embed) / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_FixtureEncode256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FixtureDecode256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FullSizeEncode512)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_FullSizeDecode512)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_FullSizeQuantize1MP)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

BENCHMARK_MAIN();
