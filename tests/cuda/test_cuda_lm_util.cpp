#include "test_cuda_lm_util.h"

#ifdef EMU35_HAVE_CUDA
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "lm/random_checkpoint.h"

namespace emu35::cuda_lm_test {

uint64_t fresh_seed() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) ^ rd();
}

uint64_t test_seed() {
  if (const char* e = std::getenv("EMU35_TEST_SEED"); e && *e) return std::strtoull(e, nullptr, 10);
  return fresh_seed();
}

std::string seed_note(uint64_t seed) {
  return "seed " + std::to_string(seed) + " (rerun with EMU35_TEST_SEED=" + std::to_string(seed) + ")";
}

std::vector<float> randn(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = f32_to_bf16(v[i]);
  return o;
}

std::vector<float> bf16_round(const std::vector<float>& v) {
  std::vector<float> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = bf16_to_f32(f32_to_bf16(v[i]));
  return o;
}

double rel_err(const std::vector<float>& got, const std::vector<float>& ref) {
  EXPECT_EQ(got.size(), ref.size());
  double worst = 0, mx = 0;
  for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
    const double d = std::fabs(double(got[i]) - double(ref[i]));
    worst = std::isnan(d) ? INFINITY : std::max(worst, d);
    mx = std::max(mx, std::fabs(double(ref[i])));
  }
  return mx > 0 ? worst / mx : worst;
}

std::vector<float> download_act(const void* p, size_t n, bool bf16) {
  std::vector<float> out(n);
  EMU35_CUDA_CHECK(cudaDeviceSynchronize());
  if (bf16) {
    std::vector<uint16_t> h(n);
    EMU35_CUDA_CHECK(cudaMemcpy(h.data(), p, n * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(h[i]);
  } else {
    EMU35_CUDA_CHECK(cudaMemcpy(out.data(), p, n * 4, cudaMemcpyDeviceToHost));
  }
  return out;
}

namespace {
Emu3Config base(int64_t vocab, int64_t hidden, int64_t inter, int64_t layers, int64_t heads, int64_t kv, int64_t hd,
                int64_t maxpos) {
  Emu3Config c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = inter;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv;
  c.head_dim = hd;
  c.max_position_embeddings = maxpos;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  c.architectures = {"Emu3ForCausalLM"};
  return c;
}
}  // namespace

Emu3Config config_tiny() { return base(301, 44, 90, 3, 4, 2, 18, 300); }
Emu3Config config_hd64() { return base(1000, 256, 512, 2, 4, 2, 64, 600); }
Emu3Config config_hd128() { return base(2048, 512, 1024, 2, 8, 1, 128, 600); }

RandomModel random_model(const Emu3Config& cfg, uint64_t seed, DType dtype) {
  RandomModel m;
  m.dir = std::make_unique<test::TempDir>("cuda-lm");
  lm::RandomCheckpointOptions o;
  o.seed = seed;
  o.dtype = dtype;
  lm::write_random_checkpoint(m.dir->path(), cfg, o);
  m.weights = lm::LmWeights::load(m.dir->path());
  return m;
}

std::vector<int32_t> some_ids(int n, uint64_t seed, int vocab) {
  std::mt19937_64 g(seed);
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<int32_t>(g() % uint64_t(vocab));
  return v;
}

}  // namespace emu35::cuda_lm_test
#endif  // EMU35_HAVE_CUDA
