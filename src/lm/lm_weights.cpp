#include "lm/lm_weights.h"

#include "common/error.h"

namespace emu35::lm {

namespace {

void check_float_dtype(const TensorView& t) {
  if (t.dtype != DType::BF16 && t.dtype != DType::F16 && t.dtype != DType::F32)
    throw Error(*t.file + ": tensor " + t.name + " is " + std::string(dtype_name(t.dtype)) +
                ", expected BF16, F16 or F32");
}

WeightMatrix matrix(const SafeTensors& st, const std::string& name, int64_t rows, int64_t cols) {
  const TensorView& t = st.get(name, {rows, cols});
  check_float_dtype(t);
  return WeightMatrix{&t, t.dtype, t.data, rows, cols};
}

std::vector<float> vec(const SafeTensors& st, const std::string& name, int64_t n) {
  const TensorView& t = st.get(name, {n});
  check_float_dtype(t);
  std::vector<float> out(static_cast<size_t>(n));
  convert_to_f32(t.dtype, t.data, out.data(), out.size());
  return out;
}

}  // namespace

LmWeights::LmWeights(Emu3Config config, SafeTensors tensors)
    : config_(std::move(config)), tensors_(std::move(tensors)) {
  const Emu3Config& c = config_;
  const SafeTensors& st = tensors_;  // views point into this member, so look up after the move
  const int64_t H = c.hidden_size, V = c.vocab_size, I = c.intermediate_size;
  const int64_t hd = c.head_dim, qd = c.q_dim(), kvd = c.kv_dim();
  check(c.max_position_embeddings <= (int64_t{1} << 30),
        st.source() + ": max_position_embeddings " + std::to_string(c.max_position_embeddings) + " is too large");
  embed_tokens = matrix(st, "model.embed_tokens.weight", V, H);
  lm_head = c.tie_word_embeddings ? embed_tokens : matrix(st, "lm_head.weight", V, H);
  final_norm = vec(st, "model.norm.weight", H);
  layers.resize(static_cast<size_t>(c.num_hidden_layers));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LmLayerWeights& L = layers[static_cast<size_t>(i)];
    L.q_proj = matrix(st, p + "self_attn.q_proj.weight", qd, H);
    L.k_proj = matrix(st, p + "self_attn.k_proj.weight", kvd, H);
    L.v_proj = matrix(st, p + "self_attn.v_proj.weight", kvd, H);
    L.o_proj = matrix(st, p + "self_attn.o_proj.weight", H, qd);
    L.q_norm = vec(st, p + "self_attn.q_norm.weight", hd);
    L.k_norm = vec(st, p + "self_attn.k_norm.weight", hd);
    L.gate_proj = matrix(st, p + "mlp.gate_proj.weight", I, H);
    L.up_proj = matrix(st, p + "mlp.up_proj.weight", I, H);
    L.down_proj = matrix(st, p + "mlp.down_proj.weight", H, I);
    L.input_norm = vec(st, p + "input_layernorm.weight", H);
    L.post_attention_norm = vec(st, p + "post_attention_layernorm.weight", H);
  }
}

std::shared_ptr<const LmWeights> LmWeights::from(Emu3Config config, SafeTensors tensors) {
  return std::shared_ptr<const LmWeights>(new LmWeights(std::move(config), std::move(tensors)));
}

std::shared_ptr<const LmWeights> LmWeights::load(const std::filesystem::path& dir) {
  Emu3Config cfg = Emu3Config::load(dir);
  return from(std::move(cfg), SafeTensors::open(dir));
}

}  // namespace emu35::lm
