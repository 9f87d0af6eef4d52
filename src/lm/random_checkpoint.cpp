#include "lm/random_checkpoint.h"

#include <cmath>
#include <random>

#include "common/error.h"
#include "common/file_util.h"
#include "formats/safetensors.h"

namespace emu35::lm {

namespace {

// splitmix64: the same numbers on every platform (std distributions are not).
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float uniform(float a) {  // in [-a, a)
    return a * (static_cast<float>(next() >> 40) * (2.0f / 16777216.0f) - 1.0f);
  }
};

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> checkpoint_tensor_shapes(const Emu3Config& c) {
  const int64_t H = c.hidden_size, V = c.vocab_size, I = c.intermediate_size, hd = c.head_dim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"model.embed_tokens.weight", {V, H}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "input_layernorm.weight", {H}});
    out.push_back({p + "self_attn.q_proj.weight", {c.q_dim(), H}});
    out.push_back({p + "self_attn.k_proj.weight", {c.kv_dim(), H}});
    out.push_back({p + "self_attn.v_proj.weight", {c.kv_dim(), H}});
    out.push_back({p + "self_attn.o_proj.weight", {H, c.q_dim()}});
    out.push_back({p + "self_attn.q_norm.weight", {hd}});
    out.push_back({p + "self_attn.k_norm.weight", {hd}});
    out.push_back({p + "post_attention_layernorm.weight", {H}});
    out.push_back({p + "mlp.gate_proj.weight", {I, H}});
    out.push_back({p + "mlp.up_proj.weight", {I, H}});
    out.push_back({p + "mlp.down_proj.weight", {H, I}});
  }
  out.push_back({"model.norm.weight", {H}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {V, H}});
  return out;
}

void write_random_checkpoint(const std::filesystem::path& dir, const Emu3Config& cfg,
                             const RandomCheckpointOptions& opts) {
  check(opts.dtype == DType::BF16 || opts.dtype == DType::F16 || opts.dtype == DType::F32,
        "write_random_checkpoint: dtype must be BF16, F16 or F32");
  std::filesystem::create_directories(dir);
  write_file_atomic(dir / "config.json", cfg.to_json());
  SafeTensorsWriter w;
  Rng rng{opts.seed};
  std::vector<float> buf;
  for (auto [name, shape] : checkpoint_tensor_shapes(cfg)) {
    if (opts.edit && !opts.edit(name, shape)) continue;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    buf.resize(static_cast<size_t>(n));
    // Norm weights near 1, matrices scaled by fan-in (unit-variance outputs), embeddings in [-1, 1).
    const bool is_norm = shape.size() == 1;
    const bool is_embed = name == "model.embed_tokens.weight";
    const float a = is_norm ? 0.1f : is_embed ? 1.0f : std::sqrt(3.0f / static_cast<float>(shape.back()));
    for (float& f : buf) f = (is_norm ? 1.0f : 0.0f) + rng.uniform(a);
    if (opts.dtype == DType::BF16) {
      w.add_bf16(name, shape, buf.data());
    } else if (opts.dtype == DType::F32) {
      w.add_f32(name, shape, buf.data());
    } else {
      std::vector<uint16_t> h(buf.size());
      for (size_t i = 0; i < h.size(); ++i) h[i] = f32_to_f16(buf[i]);
      w.add(name, DType::F16, shape, h.data(), h.size() * 2);
    }
  }
  if (opts.max_shard_bytes > 0) w.write_sharded(dir, opts.max_shard_bytes);
  else w.write(dir / "model.safetensors");
}

void write_random_checkpoint(const std::filesystem::path& dir, const Emu3Config& c, uint64_t seed,
                             size_t max_shard_bytes) {
  std::mt19937_64 g(seed);
  const float s = static_cast<float>(c.initializer_range);
  SafeTensorsWriter w;
  w.set_metadata("format", "pt");
  std::vector<float> buf;
  for (const auto& [name, shape] : checkpoint_tensor_shapes(c)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    buf.assign(static_cast<size_t>(n), 1.0f);  // norm weights stay 1
    if (shape.size() == 2) {
      std::normal_distribution<float> d(0.0f, s);
      for (float& x : buf) x = d(g);
    }
    w.add_bf16(name, shape, buf.data());
  }
  std::filesystem::create_directories(dir);
  if (w.payload_bytes() > max_shard_bytes) w.write_sharded(dir, max_shard_bytes);
  else w.write(dir / "model.safetensors");
  write_file_atomic(dir / "config.json", c.to_json());
}

}  // namespace emu35::lm
