#include "vq/ibq_model.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "common/error.h"
#include "common/file_util.h"
#include "formats/safetensors.h"
#include "vq/codebook.h"
#include "vq/cpu_conv.h"
#include "vq/cpu_layers.h"

namespace fs = std::filesystem;

namespace emu35::vq {

namespace {

constexpr int kGroups = 32;      // Normalize(): GroupNorm(32, C, eps=1e-6)
constexpr float kNormEps = 1e-6f;

struct Norm {
  std::vector<float> weight, bias;
  int channels = 0;
};

struct ResnetBlock {
  Norm norm1, norm2;
  Conv2d conv1, conv2;
  bool has_shortcut = false;  // 1x1 nin_shortcut when channels change
  Conv2d nin_shortcut;
};

struct AttnBlock {
  Norm norm;
  Conv2d q, k, v, proj_out;
};

struct Level {
  std::vector<ResnetBlock> block;
  std::vector<AttnBlock> attn;  // empty, or one per block
  bool has_resample = false;    // encoder: downsample; decoder: upsample
  Conv2d resample;
};

struct Mid {
  ResnetBlock block_1, block_2;
  AttnBlock attn_1;
};

Conv2d make_conv(int cin, int cout, int k) {
  Conv2d c;
  c.cin = cin;
  c.cout = cout;
  c.k = k;
  return c;
}
Norm make_norm(int ch) {
  Norm n;
  n.channels = ch;
  return n;
}
ResnetBlock make_block(int cin, int cout) {
  ResnetBlock b;
  b.norm1 = make_norm(cin);
  b.conv1 = make_conv(cin, cout, 3);
  b.norm2 = make_norm(cout);
  b.conv2 = make_conv(cout, cout, 3);
  b.has_shortcut = cin != cout;
  if (b.has_shortcut) b.nin_shortcut = make_conv(cin, cout, 1);
  return b;
}
AttnBlock make_attn(int ch) {
  AttnBlock a;
  a.norm = make_norm(ch);
  a.q = make_conv(ch, ch, 1);
  a.k = make_conv(ch, ch, 1);
  a.v = make_conv(ch, ch, 1);
  a.proj_out = make_conv(ch, ch, 1);
  return a;
}
Mid make_mid(int ch) { return Mid{make_block(ch, ch), make_block(ch, ch), make_attn(ch)}; }

// What a parameter is, for random initialisation.
enum class ParamKind { ConvWeight, ConvBias, NormWeight, NormBias, Embedding };

using ParamFn = std::function<void(const std::string& name, const std::vector<int64_t>& shape, ParamKind kind,
                                   int64_t fan_in, std::vector<float>& data)>;

}  // namespace

struct IbqModel::Weights {
  IbqConfig config;
  Conv2d enc_conv_in;
  std::vector<Level> down;
  Mid enc_mid;
  Norm enc_norm_out;
  Conv2d enc_conv_out;
  Conv2d quant_conv, post_quant_conv;
  std::vector<float> codebook;  // [n_embed, embed_dim]
  Conv2d dec_conv_in;
  Mid dec_mid;
  std::vector<Level> up;  // indexed by level, as the state dict (processed top-down)
  Norm dec_norm_out;
  Conv2d dec_conv_out;

  explicit Weights(const IbqConfig& c);
  void for_each(const ParamFn& fn);
};

// The module tree of upstream's Encoder / Decoder (taming-transformers layout).
IbqModel::Weights::Weights(const IbqConfig& c) : config(c) {
  const int levels = c.num_levels();
  const int ch = int(c.ch);
  enc_conv_in = make_conv(int(c.in_channels), ch, 3);
  int block_in = ch;
  for (int l = 0; l < levels; ++l) {
    Level lv;
    const int block_out = int(c.level_channels(l));
    for (int b = 0; b < c.num_res_blocks; ++b) {
      lv.block.push_back(make_block(block_in, block_out));
      block_in = block_out;
      if (c.encoder_level_has_attention(l)) lv.attn.push_back(make_attn(block_in));
    }
    if (l != levels - 1) {
      lv.has_resample = true;
      lv.resample = make_conv(block_in, block_in, 3);
    }
    down.push_back(std::move(lv));
  }
  enc_mid = make_mid(block_in);
  enc_norm_out = make_norm(block_in);
  enc_conv_out = make_conv(block_in, int(c.z_channels), 3);
  quant_conv = make_conv(int(c.z_channels), int(c.embed_dim), 1);
  post_quant_conv = make_conv(int(c.embed_dim), int(c.z_channels), 1);

  block_in = int(c.level_channels(levels - 1));
  dec_conv_in = make_conv(int(c.z_channels), block_in, 3);
  dec_mid = make_mid(block_in);
  up.resize(size_t(levels));
  for (int l = levels - 1; l >= 0; --l) {
    Level& lv = up[size_t(l)];
    const int block_out = int(c.level_channels(l));
    for (int b = 0; b < c.num_res_blocks + 1; ++b) {
      lv.block.push_back(make_block(block_in, block_out));
      block_in = block_out;
      if (c.decoder_level_has_attention(l)) lv.attn.push_back(make_attn(block_in));
    }
    if (l != 0) {
      lv.has_resample = true;
      lv.resample = make_conv(block_in, block_in, 3);
    }
  }
  dec_norm_out = make_norm(block_in);
  dec_conv_out = make_conv(block_in, int(c.out_ch), 3);
}

// Every parameter with its state-dict name, in the order PyTorch lists them.
void IbqModel::Weights::for_each(const ParamFn& fn) {
  auto conv = [&](const std::string& p, Conv2d& c) {
    fn(p + ".weight", {c.cout, c.cin, c.k, c.k}, ParamKind::ConvWeight, int64_t(c.cin) * c.k * c.k, c.weight);
    fn(p + ".bias", {c.cout}, ParamKind::ConvBias, int64_t(c.cin) * c.k * c.k, c.bias);
  };
  auto norm = [&](const std::string& p, Norm& n) {
    fn(p + ".weight", {n.channels}, ParamKind::NormWeight, 0, n.weight);
    fn(p + ".bias", {n.channels}, ParamKind::NormBias, 0, n.bias);
  };
  auto block = [&](const std::string& p, ResnetBlock& b) {
    norm(p + ".norm1", b.norm1);
    conv(p + ".conv1", b.conv1);
    norm(p + ".norm2", b.norm2);
    conv(p + ".conv2", b.conv2);
    if (b.has_shortcut) conv(p + ".nin_shortcut", b.nin_shortcut);
  };
  auto attn = [&](const std::string& p, AttnBlock& a) {
    norm(p + ".norm", a.norm);
    conv(p + ".q", a.q);
    conv(p + ".k", a.k);
    conv(p + ".v", a.v);
    conv(p + ".proj_out", a.proj_out);
  };
  auto mid = [&](const std::string& p, Mid& m) {
    block(p + ".block_1", m.block_1);
    attn(p + ".attn_1", m.attn_1);
    block(p + ".block_2", m.block_2);
  };
  auto levels = [&](const std::string& p, std::vector<Level>& lvs, const char* resample) {
    for (size_t l = 0; l < lvs.size(); ++l) {
      const std::string lp = p + "." + std::to_string(l);
      for (size_t b = 0; b < lvs[l].block.size(); ++b) block(lp + ".block." + std::to_string(b), lvs[l].block[b]);
      for (size_t a = 0; a < lvs[l].attn.size(); ++a) attn(lp + ".attn." + std::to_string(a), lvs[l].attn[a]);
      if (lvs[l].has_resample) conv(lp + "." + resample + ".conv", lvs[l].resample);
    }
  };
  conv("encoder.conv_in", enc_conv_in);
  levels("encoder.down", down, "downsample");
  mid("encoder.mid", enc_mid);
  norm("encoder.norm_out", enc_norm_out);
  conv("encoder.conv_out", enc_conv_out);
  conv("decoder.conv_in", dec_conv_in);
  mid("decoder.mid", dec_mid);
  levels("decoder.up", up, "upsample");
  norm("decoder.norm_out", dec_norm_out);
  conv("decoder.conv_out", dec_conv_out);
  fn("quantize.embedding.weight", {config.n_embed, config.embed_dim}, ParamKind::Embedding, 0, codebook);
  conv("quant_conv", quant_conv);
  conv("post_quant_conv", post_quant_conv);
}

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string name_list(const std::vector<std::string>& names) {
  std::string s;
  const size_t shown = std::min<size_t>(names.size(), 6);
  for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > shown) s += ", ... (" + std::to_string(names.size() - shown) + " more)";
  return s;
}

// ---- forward pieces ----

FeatureMap norm_fwd(const FeatureMap& x, const Norm& n, bool swish) {
  return group_norm(x, n.weight, n.bias, kGroups, kNormEps, swish);
}

FeatureMap resnet_fwd(const ResnetBlock& b, const FeatureMap& x) {
  FeatureMap h = norm_fwd(x, b.norm1, true);
  h = conv_same(h, b.conv1);
  h = norm_fwd(h, b.norm2, true);  // dropout: identity in eval
  h = conv_same(h, b.conv2);
  if (b.has_shortcut) add_inplace(h, conv_same(x, b.nin_shortcut));
  else add_inplace(h, x);
  return h;
}

FeatureMap attn_fwd(const AttnBlock& a, const FeatureMap& x) {
  FeatureMap h = norm_fwd(x, a.norm, false);
  FeatureMap o = spatial_attention(conv_same(h, a.q), conv_same(h, a.k), conv_same(h, a.v));
  o = conv_same(o, a.proj_out);
  add_inplace(o, x);
  return o;
}

FeatureMap mid_fwd(const Mid& m, FeatureMap h) {
  h = resnet_fwd(m.block_1, h);
  h = attn_fwd(m.attn_1, h);
  return resnet_fwd(m.block_2, h);
}

FeatureMap level_fwd(const Level& lv, FeatureMap h) {
  for (size_t b = 0; b < lv.block.size(); ++b) {
    h = resnet_fwd(lv.block[b], h);
    if (!lv.attn.empty()) h = attn_fwd(lv.attn[b], h);
  }
  return h;
}

// splitmix64: a tiny, good, seedable generator for random weights.
struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * float(next() >> 40) * (1.0f / 16777216.0f); }
};

}  // namespace

IbqModel IbqModel::from_state_dict(const IbqConfig& config, StateDict sd, const std::string& source) {
  config.validate(source);
  auto w = std::make_shared<Weights>(config);
  std::vector<std::string> missing, wrong;
  w->for_each([&](const std::string& name, const std::vector<int64_t>& shape, ParamKind, int64_t,
                  std::vector<float>& data) {
    auto it = sd.find(name);
    if (it == sd.end()) {
      missing.push_back(name);
      return;
    }
    if (it->second.shape != shape) {
      wrong.push_back(name + " is " + it->second.shape_str() + ", expected " + shape_str(shape));
    } else {
      data = std::move(it->second.data);
    }
    sd.erase(it);
  });
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : sd) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty() || !wrong.empty()) {
    std::string msg = source + ": the weights do not match the IBQ config:";
    if (!missing.empty()) msg += " missing " + std::to_string(missing.size()) + " tensor(s): " + name_list(missing) + ";";
    if (!unexpected.empty())
      msg += " unexpected " + std::to_string(unexpected.size()) + " tensor(s): " + name_list(unexpected) + ";";
    if (!wrong.empty()) msg += " wrong shape: " + name_list(wrong) + ";";
    msg.pop_back();
    throw Error(msg);
  }
  return IbqModel(std::move(w));
}

IbqModel IbqModel::load(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(dir.string() + ": not a directory (expected an IBQ vision tokenizer folder)");
  IbqConfig config = IbqConfig::load(dir);
  const fs::path st = dir / "model.safetensors", ckpt = dir / "model.ckpt";
  if (fs::exists(st)) {
    SafeTensors file = SafeTensors::open(st);
    StateDict sd;
    for (const std::string& name : file.names()) {
      const TensorView& t = file.get(name);
      FloatTensor ft;
      ft.shape = t.shape;
      ft.data = file.to_f32(name);
      sd.emplace(name, std::move(ft));
    }
    return from_state_dict(config, std::move(sd), st.string());
  }
  if (fs::exists(ckpt)) return from_state_dict(config, load_torch_checkpoint(ckpt), ckpt.string());
  throw Error(dir.string() + ": no model.safetensors or model.ckpt in the directory");
}

IbqModel IbqModel::random(const IbqConfig& config, uint64_t seed) {
  config.validate("random IBQ config");
  auto w = std::make_shared<Weights>(config);
  uint64_t index = 0;
  w->for_each([&](const std::string&, const std::vector<int64_t>& shape, ParamKind kind, int64_t fan_in,
                  std::vector<float>& data) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    data.resize(size_t(n));
    const uint64_t pseed = SplitMix{seed ^ (0x51ed2701ull * ++index)}.next();
    if (kind == ParamKind::NormWeight || kind == ParamKind::NormBias) {
      std::fill(data.begin(), data.end(), kind == ParamKind::NormWeight ? 1.0f : 0.0f);
      return;
    }
    // nn.Conv2d's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias;
    // the embedding gets unit variance like nn.Embedding's N(0, 1).
    const float bound = kind == ParamKind::Embedding ? std::sqrt(3.0f) : 1.0f / std::sqrt(float(fan_in));
    const int64_t chunk = 1 << 16;
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
      SplitMix rng{pseed + uint64_t(c0)};
      for (int64_t i = c0; i < std::min(n, c0 + chunk); ++i) data[size_t(i)] = rng.uniform(-bound, bound);
    }
  });
  return IbqModel(std::move(w));
}

void IbqModel::save(const fs::path& dir) const {
  fs::create_directories(dir);
  SafeTensorsWriter writer;
  auto& w = const_cast<Weights&>(*w_);  // for_each is shared with loading; nothing is modified here
  w.for_each([&](const std::string& name, const std::vector<int64_t>& shape, ParamKind, int64_t,
                 std::vector<float>& data) { writer.add_f32(name, shape, data.data()); });
  writer.set_metadata("format", "pt");
  writer.write(dir / "model.safetensors");
  write_file_atomic(dir / "config.json", w_->config.to_json());
}

void IbqModel::for_each_parameter(const ParameterVisitor& fn) const {
  auto& w = const_cast<Weights&>(*w_);  // for_each is shared with loading; nothing is modified here
  w.for_each([&](const std::string& name, const std::vector<int64_t>& shape, ParamKind, int64_t,
                 std::vector<float>& data) { fn(name, shape, data); });
}

const IbqConfig& IbqModel::config() const { return w_->config; }

int64_t IbqModel::num_parameters() const {
  int64_t total = 0;
  for (const auto& [name, shape] : expected_tensors(w_->config)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    total += n;
  }
  return total;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> IbqModel::expected_tensors(const IbqConfig& config) {
  Weights w(config);
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  w.for_each([&](const std::string& name, const std::vector<int64_t>& shape, ParamKind, int64_t, std::vector<float>&) {
    out.emplace_back(name, shape);
  });
  return out;
}

FeatureMap IbqModel::pixels_from_image(const Image& img) {
  check_image(img, "IBQ encoder input");
  FeatureMap x(3, img.height, img.width);
  const size_t plane = x.plane();
  for (size_t p = 0; p < plane; ++p)
    for (int c = 0; c < 3; ++c) x.data[size_t(c) * plane + p] = float(double(img.rgb[p * 3 + size_t(c)]) / 127.5 - 1.0);
  return x;
}

FeatureMap IbqModel::encode_latent(const FeatureMap& pixels) const {
  const Weights& w = *w_;
  const IbqConfig& c = w.config;
  const int f = downsample_factor();
  if (pixels.c != c.in_channels)
    throw Error("IBQ encode: the input has " + std::to_string(pixels.c) + " channels, the model expects " +
                std::to_string(c.in_channels));
  if (pixels.h <= 0 || pixels.w <= 0 || pixels.h % f || pixels.w % f)
    throw Error("IBQ encode: a " + std::to_string(pixels.w) + "x" + std::to_string(pixels.h) +
                " picture does not divide into " + std::to_string(f) + "x" + std::to_string(f) +
                " patches (smart-resize it first)");
  FeatureMap h = conv_same(pixels, w.enc_conv_in);
  for (const Level& lv : w.down) {
    h = level_fwd(lv, std::move(h));
    if (lv.has_resample) h = conv_downsample(h, lv.resample);
  }
  h = mid_fwd(w.enc_mid, std::move(h));
  h = norm_fwd(h, w.enc_norm_out, true);
  h = conv_same(h, w.enc_conv_out);
  return conv_same(h, w.quant_conv);
}

CodeGrid IbqModel::quantize(const FeatureMap& latent) const {
  const IbqConfig& c = w_->config;
  CodeGrid g;
  g.h = latent.h;
  g.w = latent.w;
  g.codes = codebook_argmax(w_->codebook, int(c.n_embed), int(c.embed_dim), latent);
  return g;
}

FeatureMap IbqModel::decode_float(const CodeGrid& g) const {
  const Weights& w = *w_;
  const IbqConfig& c = w.config;
  if (g.h <= 0 || g.w <= 0 || g.codes.size() != size_t(g.h) * size_t(g.w))
    throw Error("IBQ decode: the code grid is empty or not " + std::to_string(g.h) + "x" + std::to_string(g.w));
  for (size_t i = 0; i < g.codes.size(); ++i)
    if (g.codes[i] < 0 || g.codes[i] >= c.n_embed)
      throw Error("IBQ decode: code " + std::to_string(g.codes[i]) + " at row " + std::to_string(i / size_t(g.w)) +
                  ", column " + std::to_string(i % size_t(g.w)) + " is outside the codebook [0, " +
                  std::to_string(c.n_embed) + ")");
  FeatureMap h = codebook_lookup(w.codebook, int(c.embed_dim), g.codes, g.h, g.w);
  h = conv_same(h, w.post_quant_conv);
  h = conv_same(h, w.dec_conv_in);
  h = mid_fwd(w.dec_mid, std::move(h));
  for (int l = c.num_levels() - 1; l >= 0; --l) {
    const Level& lv = w.up[size_t(l)];
    h = level_fwd(lv, std::move(h));
    if (lv.has_resample) h = conv_same(upsample_nearest2x(h), lv.resample);
  }
  h = norm_fwd(h, w.dec_norm_out, true);
  return conv_same(h, w.dec_conv_out);
}

Image IbqModel::image_from_float(const FeatureMap& x) {
  if (x.c != 3) throw Error("IBQ decode: " + std::to_string(x.c) + " output channels cannot make an RGB picture");
  Image img = Image::blank(x.w, x.h);
  const size_t plane = x.plane();
  for (int c = 0; c < 3; ++c) {
    const float* src = x.channel(c);
    for (size_t p = 0; p < plane; ++p) {
      float v = (src[p] + 1.0f) * 127.5f;
      v = v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f;  // NaN -> 0
      img.rgb[p * 3 + size_t(c)] = uint8_t(v);          // truncation, as torch's .to(uint8)
    }
  }
  return img;
}

}  // namespace emu35::vq
