#include "cuda/vq_weights.h"

#include <cuda_runtime.h>

#include <set>

#include "common/error.h"
#include "cuda/cuda_check.h"

namespace emu35::cuda::ibq {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Walks the module tree in the CPU model's order, resolving names.
class Binder {
 public:
  Binder(const WeightLayout& layout, const float* base) : layout_(layout), base_(base) {}

  const float* tensor(const std::string& name, const std::vector<int64_t>& shape) {
    const TensorSlot& s = layout_.at(name, shape);
    if (!used_.insert(name).second) throw Error("IBQ GPU weights: tensor " + name + " is bound twice");
    return base_ + s.offset;
  }
  DConv conv(const std::string& p, int cin, int cout, int k) {
    DConv c;
    c.cin = cin;
    c.cout = cout;
    c.k = k;
    c.weight = tensor(p + ".weight", {cout, cin, k, k});
    c.bias = tensor(p + ".bias", {cout});
    return c;
  }
  DNorm norm(const std::string& p, int ch) {
    DNorm n;
    n.channels = ch;
    n.gamma = tensor(p + ".weight", {ch});
    n.beta = tensor(p + ".bias", {ch});
    return n;
  }
  DResnet block(const std::string& p, int cin, int cout) {
    DResnet b;
    b.norm1 = norm(p + ".norm1", cin);
    b.conv1 = conv(p + ".conv1", cin, cout, 3);
    b.norm2 = norm(p + ".norm2", cout);
    b.conv2 = conv(p + ".conv2", cout, cout, 3);
    b.has_shortcut = cin != cout;
    if (b.has_shortcut) b.nin_shortcut = conv(p + ".nin_shortcut", cin, cout, 1);
    return b;
  }
  DAttn attn(const std::string& p, int ch) {
    DAttn a;
    a.norm = norm(p + ".norm", ch);
    a.q = conv(p + ".q", ch, ch, 1);
    a.k = conv(p + ".k", ch, ch, 1);
    a.v = conv(p + ".v", ch, ch, 1);
    a.proj_out = conv(p + ".proj_out", ch, ch, 1);
    return a;
  }
  DMid mid(const std::string& p, int ch) {
    DMid m;
    m.block_1 = block(p + ".block_1", ch, ch);
    m.attn_1 = attn(p + ".attn_1", ch);
    m.block_2 = block(p + ".block_2", ch, ch);
    return m;
  }

  void check_all_used() const {
    std::vector<std::string> unused;
    for (const auto& [name, slot] : layout_.slots())
      if (!used_.count(name)) unused.push_back(name);
    if (unused.empty()) return;
    std::string msg = "IBQ GPU weights: " + std::to_string(unused.size()) + " tensor(s) not used by the GPU graph:";
    for (size_t i = 0; i < unused.size() && i < 6; ++i) msg += " " + unused[i];
    throw Error(msg);
  }

 private:
  const WeightLayout& layout_;
  const float* base_;
  std::set<std::string> used_;
};

}  // namespace

WeightLayout WeightLayout::of(const vq::IbqModel& model) {
  WeightLayout l;
  model.for_each_parameter([&](const std::string& name, const std::vector<int64_t>& shape,
                               const std::vector<float>& data) {
    TensorSlot s;
    s.shape = shape;
    s.count = 1;
    for (int64_t d : shape) s.count *= size_t(d);
    if (s.count != data.size())
      throw Error("IBQ weights: tensor " + name + " holds " + std::to_string(data.size()) + " values, its shape " +
                  shape_str(shape) + " needs " + std::to_string(s.count));
    s.offset = l.total_;
    l.total_ += (s.count + 63) / 64 * 64;
    if (!l.slots_.emplace(name, s).second) throw Error("IBQ weights: tensor " + name + " appears twice");
  });
  return l;
}

const TensorSlot& WeightLayout::at(const std::string& name, const std::vector<int64_t>& shape) const {
  auto it = slots_.find(name);
  if (it == slots_.end()) throw Error("IBQ GPU weights: tensor " + name + " is missing");
  if (it->second.shape != shape)
    throw Error("IBQ GPU weights: tensor " + name + " is " + shape_str(it->second.shape) + ", the GPU graph expects " +
                shape_str(shape));
  return it->second;
}

// The same tree as IbqModel::Weights (taming-transformers' Encoder / Decoder).
IbqDeviceWeights bind_weights(const IbqConfig& c, const WeightLayout& layout, const float* base) {
  Binder b(layout, base);
  IbqDeviceWeights w;
  w.config = c;
  const int levels = c.num_levels();
  const int ch = int(c.ch);
  w.enc_conv_in = b.conv("encoder.conv_in", int(c.in_channels), ch, 3);
  int block_in = ch;
  for (int l = 0; l < levels; ++l) {
    DLevel lv;
    const std::string lp = "encoder.down." + std::to_string(l);
    const int block_out = int(c.level_channels(l));
    for (int i = 0; i < c.num_res_blocks; ++i) {
      lv.block.push_back(b.block(lp + ".block." + std::to_string(i), block_in, block_out));
      block_in = block_out;
      if (c.encoder_level_has_attention(l)) lv.attn.push_back(b.attn(lp + ".attn." + std::to_string(i), block_in));
    }
    if (l != levels - 1) {
      lv.has_resample = true;
      lv.resample = b.conv(lp + ".downsample.conv", block_in, block_in, 3);
    }
    w.down.push_back(std::move(lv));
  }
  w.enc_mid = b.mid("encoder.mid", block_in);
  w.enc_norm_out = b.norm("encoder.norm_out", block_in);
  w.enc_conv_out = b.conv("encoder.conv_out", block_in, int(c.z_channels), 3);
  w.quant_conv = b.conv("quant_conv", int(c.z_channels), int(c.embed_dim), 1);
  w.post_quant_conv = b.conv("post_quant_conv", int(c.embed_dim), int(c.z_channels), 1);
  w.codebook = b.tensor("quantize.embedding.weight", {c.n_embed, c.embed_dim});

  block_in = int(c.level_channels(levels - 1));
  w.dec_conv_in = b.conv("decoder.conv_in", int(c.z_channels), block_in, 3);
  w.dec_mid = b.mid("decoder.mid", block_in);
  w.up.resize(size_t(levels));
  for (int l = levels - 1; l >= 0; --l) {
    DLevel& lv = w.up[size_t(l)];
    const std::string lp = "decoder.up." + std::to_string(l);
    const int block_out = int(c.level_channels(l));
    for (int i = 0; i < c.num_res_blocks + 1; ++i) {
      lv.block.push_back(b.block(lp + ".block." + std::to_string(i), block_in, block_out));
      block_in = block_out;
      if (c.decoder_level_has_attention(l)) lv.attn.push_back(b.attn(lp + ".attn." + std::to_string(i), block_in));
    }
    if (l != 0) {
      lv.has_resample = true;
      lv.resample = b.conv(lp + ".upsample.conv", block_in, block_in, 3);
    }
  }
  w.dec_norm_out = b.norm("decoder.norm_out", block_in);
  w.dec_conv_out = b.conv("decoder.conv_out", block_in, int(c.out_ch), 3);
  b.check_all_used();
  return w;
}

void upload_weights(const vq::IbqModel& model, const WeightLayout& layout, float* device_base) {
  model.for_each_parameter([&](const std::string& name, const std::vector<int64_t>& shape,
                               const std::vector<float>& data) {
    const TensorSlot& s = layout.at(name, shape);
    EMU35_CUDA_CHECK(cudaMemcpy(device_base + s.offset, data.data(), data.size() * sizeof(float),
                                cudaMemcpyHostToDevice));
  });
}

}  // namespace emu35::cuda::ibq
