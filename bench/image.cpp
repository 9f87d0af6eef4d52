// Image path costs: smart_resize / bicubic resize and PNG / JPEG coding.
// Pictures are made from the fixture photo (realistic content for the codecs).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <span>
#include <string>

#include "image/image_read.h"
#include "image/image_write.h"
#include "image/resize.h"

namespace {

std::filesystem::path fixtures() {
  const char* env = std::getenv("EMU35_FIXTURES");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(EMU35_FIXTURES_DEFAULT);
}

const emu35::Image& photo(int w, int h) {
  static const emu35::Image base = emu35::read_image(fixtures() / "images/ref_0.png");
  static std::map<std::pair<int, int>, emu35::Image> cache;
  auto it = cache.find({w, h});
  if (it == cache.end()) it = cache.emplace(std::pair{w, h}, emu35::resize_bicubic(base, w, h)).first;
  return it->second;
}

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void BM_SmartResize_1024x768_to_1MP(benchmark::State& st) {
  const auto& src = photo(1024, 768);  // -> 1184x880 (upscale)
  for (auto _ : st) benchmark::DoNotOptimize(emu35::smart_resize(src, 1048576));
}
BENCHMARK(BM_SmartResize_1024x768_to_1MP)->Unit(benchmark::kMillisecond);

void BM_Resize_1024x768_to_512x512(benchmark::State& st) {
  const auto& src = photo(1024, 768);
  for (auto _ : st) benchmark::DoNotOptimize(emu35::resize_bicubic(src, 512, 512));
}
BENCHMARK(BM_Resize_1024x768_to_512x512)->Unit(benchmark::kMillisecond);

void BM_SmartResize_4032x3024_to_1MP(benchmark::State& st) {
  const auto& src = photo(4032, 3024);  // a phone photo -> 1184x880 (3.4x downscale)
  for (auto _ : st) benchmark::DoNotOptimize(emu35::smart_resize(src, 1048576));
}
BENCHMARK(BM_SmartResize_4032x3024_to_1MP)->Unit(benchmark::kMillisecond);

void BM_EncodePng_1024x1024(benchmark::State& st) {
  const auto& src = photo(1024, 1024);
  size_t bytes = 0;
  for (auto _ : st) {
    auto png = emu35::encode_png(src);
    bytes = png.size();
    benchmark::DoNotOptimize(png);
  }
  st.counters["bytes"] = double(bytes);
}
BENCHMARK(BM_EncodePng_1024x1024)->Unit(benchmark::kMillisecond);

void BM_DecodePng_1024x1024(benchmark::State& st) {
  const std::string png = emu35::encode_png(photo(1024, 1024));
  for (auto _ : st) benchmark::DoNotOptimize(emu35::decode_image(as_bytes(png), "bench.png"));
}
BENCHMARK(BM_DecodePng_1024x1024)->Unit(benchmark::kMillisecond);

void BM_EncodeJpeg95_1024x1024(benchmark::State& st) {
  const auto& src = photo(1024, 1024);
  for (auto _ : st) benchmark::DoNotOptimize(emu35::encode_jpeg(src, 95));
}
BENCHMARK(BM_EncodeJpeg95_1024x1024)->Unit(benchmark::kMillisecond);

void BM_DecodeJpeg95_1024x1024(benchmark::State& st) {
  const std::string jpg = emu35::encode_jpeg(photo(1024, 1024), 95);
  for (auto _ : st) benchmark::DoNotOptimize(emu35::decode_image(as_bytes(jpg), "bench.jpg"));
}
BENCHMARK(BM_DecodeJpeg95_1024x1024)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
