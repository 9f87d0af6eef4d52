#include "lm_test_util.h"

#include <cmath>

#include "test_support.h"

namespace emu35::test {

namespace {
std::vector<int32_t> ids32(const std::vector<int64_t>& v) { return std::vector<int32_t>(v.begin(), v.end()); }

std::vector<double> to_double(const SafeTensors& st, const std::string& name) {
  std::vector<float> f = st.to_f32(name);
  return std::vector<double>(f.begin(), f.end());
}

// y[n] = sum_k W[n, k] x[k]
std::vector<double> matvec(const std::vector<double>& W, const std::vector<double>& x, size_t N) {
  const size_t K = x.size();
  std::vector<double> y(N, 0.0);
  for (size_t n = 0; n < N; ++n)
    for (size_t k = 0; k < K; ++k) y[n] += W[n * K + k] * x[k];
  return y;
}

void rms(double* x, const std::vector<double>& w, size_t n, double eps) {
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const double r = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (size_t i = 0; i < n; ++i) x[i] = w[i] * x[i] * r;
}
}  // namespace

const Golden& golden() {
  static const Golden g = [] {
    SafeTensors st = SafeTensors::open(fixture("transformer_golden.safetensors"));
    Golden r;
    r.input_ids = ids32(st.to_i64("input_ids"));
    r.decode_ids = ids32(st.to_i64("decode_ids"));
    r.prefill_positions = st.to_i64("prefill_positions");
    r.prefill_final_hidden = st.to_f32("prefill_final_hidden");
    r.prefill_logits = st.to_f32("prefill_logits");
    r.decode_logits = st.to_f32("decode_logits");
    return r;
  }();
  return g;
}

Emu3Config tiny_config() {
  Emu3Config c;
  c.vocab_size = 301;
  c.hidden_size = 44;  // not a multiple of 8
  c.intermediate_size = 90;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 18;  // 4 * 18 = 72 != 44
  c.max_position_embeddings = 40;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  c.architectures = {"Emu3ForCausalLM"};
  return c;
}

std::vector<double> reference_logits(const SafeTensors& st, const Emu3Config& c, const std::vector<int32_t>& ids) {
  const size_t H = c.hidden_size, V = c.vocab_size, I = c.intermediate_size, hd = c.head_dim;
  const size_t nh = c.num_attention_heads, nkv = c.num_key_value_heads, T = ids.size();
  const std::vector<double> emb = to_double(st, "model.embed_tokens.weight");
  std::vector<std::vector<double>> x(T);
  for (size_t t = 0; t < T; ++t) x[t].assign(emb.begin() + ids[t] * H, emb.begin() + (ids[t] + 1) * H);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto Wq = to_double(st, p + "self_attn.q_proj.weight"), Wk = to_double(st, p + "self_attn.k_proj.weight");
    auto Wv = to_double(st, p + "self_attn.v_proj.weight"), Wo = to_double(st, p + "self_attn.o_proj.weight");
    auto qn = to_double(st, p + "self_attn.q_norm.weight"), kn = to_double(st, p + "self_attn.k_norm.weight");
    auto n1 = to_double(st, p + "input_layernorm.weight"), n2 = to_double(st, p + "post_attention_layernorm.weight");
    auto Wg = to_double(st, p + "mlp.gate_proj.weight"), Wu = to_double(st, p + "mlp.up_proj.weight");
    auto Wd = to_double(st, p + "mlp.down_proj.weight");
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> h = x[t];
      rms(h.data(), n1, H, c.rms_norm_eps);
      q[t] = matvec(Wq, h, nh * hd);
      k[t] = matvec(Wk, h, nkv * hd);
      v[t] = matvec(Wv, h, nkv * hd);
      auto rope = [&](double* z) {
        const size_t half = hd / 2;
        for (size_t i = 0; i < half; ++i) {
          const double ang = static_cast<double>(t) * std::pow(c.rope_theta, -2.0 * i / static_cast<double>(hd));
          const double a = z[i], b = z[i + half];
          z[i] = a * std::cos(ang) - b * std::sin(ang);
          z[i + half] = b * std::cos(ang) + a * std::sin(ang);
        }
      };
      for (size_t i = 0; i < nh; ++i) {
        rms(q[t].data() + i * hd, qn, hd, c.rms_norm_eps);
        rope(q[t].data() + i * hd);
      }
      for (size_t g = 0; g < nkv; ++g) {
        rms(k[t].data() + g * hd, kn, hd, c.rms_norm_eps);
        rope(k[t].data() + g * hd);
      }
    }
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> att(nh * hd, 0.0);
      for (size_t i = 0; i < nh; ++i) {
        const size_t g = i / (nh / nkv);
        std::vector<double> s(t + 1);
        double mx = -1e300, sum = 0;
        for (size_t j = 0; j <= t; ++j) {
          double d = 0;
          for (size_t e = 0; e < hd; ++e) d += q[t][i * hd + e] * k[j][g * hd + e];
          s[j] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        for (size_t j = 0; j <= t; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (size_t j = 0; j <= t; ++j)
          for (size_t e = 0; e < hd; ++e) att[i * hd + e] += s[j] / sum * v[j][g * hd + e];
      }
      const std::vector<double> o = matvec(Wo, att, H);
      for (size_t e = 0; e < H; ++e) x[t][e] += o[e];
      std::vector<double> h = x[t];
      rms(h.data(), n2, H, c.rms_norm_eps);
      std::vector<double> g = matvec(Wg, h, I), u = matvec(Wu, h, I);
      for (size_t e = 0; e < I; ++e) g[e] = g[e] / (1.0 + std::exp(-g[e])) * u[e];
      const std::vector<double> d = matvec(Wd, g, H);
      for (size_t e = 0; e < H; ++e) x[t][e] += d[e];
    }
  }
  const std::vector<double> fn = to_double(st, "model.norm.weight");
  const std::vector<double> head =
      to_double(st, c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
  std::vector<double> out;
  for (size_t t = 0; t < T; ++t) {
    rms(x[t].data(), fn, H, c.rms_norm_eps);
    const std::vector<double> lg = matvec(head, x[t], V);
    out.insert(out.end(), lg.begin(), lg.end());
  }
  return out;
}

}  // namespace emu35::test
