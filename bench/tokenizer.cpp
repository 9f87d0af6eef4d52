// Text tokenizer speed: encode throughput on plain multilingual text (one
// core), the time to encode a prompt holding a 64x64 image string, decode
// throughput, and the load time of the real tokenizer files.
// Aims (issue): >= 20 MB/s encode, < 2 ms for the 64x64 image prompt.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace {

std::filesystem::path model_dir() {
  const char* env = std::getenv("EMU35_FIXTURES");
  return std::filesystem::path(env && *env ? env : EMU35_FIXTURES_DEFAULT) / "model";
}

const emu35::Tokenizer& tokenizer() {
  static const emu35::Tokenizer tk = emu35::Tokenizer::load(model_dir());
  return tk;
}

// A few hundred KB of mixed prose and code: English, Chinese, Russian,
// Japanese, numbers and Python, in a seeded random order.
enum class Lang { kMixed, kEnglish, kChinese };

std::string sample_text(size_t target_bytes, Lang lang) {
  static const char* parts[] = {
      "A small robot walks through the quiet market at dawn, counting the lanterns that are still lit. ",
      "The committee approved 3 of the 12 proposals on 2024-05-17, citing costs near $1.25 million.\n",
      "She wasn't sure whether they'd arrive before the storm; the road north had been closed since Tuesday. ",
      "Photosynthesis converts light energy into chemical energy stored in glucose molecules.\n\n",
      "\xE4\xBB\x8A\xE5\xA4\xA9\xE7\x9A\x84\xE5\xA4\xA9\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD\xEF\xBC\x8C"
      "\xE6\x88\x91\xE4\xBB\xAC\xE5\x8E\xBB\xE5\x85\xAC\xE5\x9B\xAD\xE6\x95\xA3\xE6\xAD\xA5\xE5\x90\xA7"
      "\xE3\x80\x82",  // Chinese: "Nice weather today, let's walk in the park."
      "\xE4\xB8\x80\xE5\x8F\xAA\xE5\xB0\x8F\xE7\x8B\x97\xE5\x9C\xA8\xE8\x8D\x89\xE5\x9C\xB0\xE4\xB8\x8A"
      "\xE8\xBF\xBD\xE9\x80\x90\xE8\x9D\xB4\xE8\x9D\xB6\xEF\xBC\x8C\xE9\x98\xB3\xE5\x85\x89\xE6\xB8\xA9"
      "\xE6\x9A\x96\xE3\x80\x82\n",  // Chinese: "A puppy chases butterflies on the grass."
      "\xD0\x9C\xD1\x8B \xD0\xB2\xD1\x81\xD1\x82\xD1\x80\xD0\xB5\xD1\x82\xD0\xB8\xD0\xBC\xD1\x81\xD1\x8F "
      "\xD0\xB7\xD0\xB0\xD0\xB2\xD1\x82\xD1\x80\xD0\xB0 \xD1\x83 \xD0\xB2\xD0\xBE\xD0\xBA\xD0\xB7\xD0\xB0"
      "\xD0\xBB\xD0\xB0 \xD0\xB2 \xD0\xB4\xD0\xB5\xD1\x81\xD1\x8F\xD1\x82\xD1\x8C \xD1\x87\xD0\xB0\xD1\x81"
      "\xD0\xBE\xD0\xB2. ",  // Russian: "We meet tomorrow at the station at ten."
      "\xE6\x98\x8E\xE6\x97\xA5\xE3\x81\xAF\xE9\x9B\xA8\xE3\x81\x8C\xE9\x99\x8D\xE3\x82\x8B\xE3\x81\x8B"
      "\xE3\x82\x82\xE3\x81\x97\xE3\x82\x8C\xE3\x81\xBE\xE3\x81\x9B\xE3\x82\x93\xE3\x80\x82",  // Japanese
      "def resize(image, area):\n    w, h = image.size\n    scale = (area / (w * h)) ** 0.5\n"
      "    return image.resize((round(w * scale), round(h * scale)))\n\n",
      "for (int i = 0; i < n; ++i) { sum += x[i] * y[i]; }  // dot product\n",
      "Generate an image of a lighthouse on a cliff, watercolor style, soft morning light. ",
  };
  // parts[0..3] English prose, [4..5] Chinese; the rest Russian, Japanese, code.
  std::mt19937 rng(42);
  std::string s;
  while (s.size() < target_bytes) {
    size_t k = rng() % std::size(parts);
    if (lang == Lang::kEnglish) k = k % 4;
    if (lang == Lang::kChinese) k = 4 + k % 2;
    s += parts[k];
  }
  return s;
}

std::string image_prompt_64() {
  std::string s = "<|extra_203|>You are a helpful assistant for x2i task. USER: <|image start|>64*64<|image token|>";
  std::mt19937 rng(7);
  char lit[32];
  for (int r = 0; r < 64; ++r) {
    for (int c = 0; c < 64; ++c) {
      std::snprintf(lit, sizeof lit, "<|visual token %06d|>", static_cast<int>(rng() % 131072));
      s += lit;
    }
    s += "<|extra_200|>";
  }
  s += "<|image end|> Make it snowy. ASSISTANT: <|extra_100|>";
  return s;
}

void BM_Encode(benchmark::State& state, Lang lang) {
  const auto& tk = tokenizer();
  const std::string text = sample_text(400 * 1024, lang);
  size_t ids = 0;
  for (auto _ : state) {
    auto out = tk.encode(text);
    ids = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["text_KB"] = static_cast<double>(text.size()) / 1024.0;
  state.counters["bytes_per_token"] = static_cast<double>(text.size()) / static_cast<double>(ids);
}
BENCHMARK_CAPTURE(BM_Encode, multilingual, Lang::kMixed)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, english, Lang::kEnglish)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, chinese, Lang::kChinese)->Unit(benchmark::kMillisecond);

void BM_EncodeImagePrompt64x64(benchmark::State& state) {
  const auto& tk = tokenizer();
  const std::string text = image_prompt_64();
  size_t specials = 0;
  for (auto _ : state) {
    auto out = tk.encode(text);
    benchmark::DoNotOptimize(out.data());
    specials = 0;
    for (int32_t id : out) specials += tk.is_special(id);
  }
  state.counters["special_tokens"] = static_cast<double>(specials);
  state.counters["text_KB"] = static_cast<double>(text.size()) / 1024.0;
}
BENCHMARK(BM_EncodeImagePrompt64x64)->Unit(benchmark::kMicrosecond);

void BM_Decode(benchmark::State& state) {
  const auto& tk = tokenizer();
  const std::string text = sample_text(400 * 1024, Lang::kMixed);
  const auto ids = tk.encode(text);
  for (auto _ : state) {
    auto s = tk.decode(ids);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_LoadTokenizerFiles(benchmark::State& state) {
  const auto dir = model_dir();
  for (auto _ : state) {
    auto tk = emu35::Tokenizer::load(dir);
    benchmark::DoNotOptimize(&tk);
  }
}
BENCHMARK(BM_LoadTokenizerFiles)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
