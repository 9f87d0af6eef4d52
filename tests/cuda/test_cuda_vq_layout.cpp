// Host-side parts of the IBQ GPU codec, checked without a GPU: the weight
// layout and the module tree bound by name, the FLOP counts behind the
// benchmark floors, and a clear error when no GPU is there.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "cuda/cuda_backend.h"
#include "cuda/device_info.h"
#include "cuda/vq_flops.h"
#include "cuda/vq_weights.h"
#include "formats/ibq_config.h"
#include "test_support.h"
#include "vq/ibq_model.h"

namespace emu35::cuda::ibq {
namespace {

const vq::IbqModel& fixture_model() {
  static const vq::IbqModel m = vq::IbqModel::load(test::fixture("vq"));
  return m;
}

IbqConfig full_config() {
  return IbqConfig::load(test::fixtures_dir().parent_path().parent_path() / "configs" /
                         "emu3.5-visiontokenizer.yaml");
}

// Every pointer the tree holds, with the tree path it was found at.
void collect(const DConv& c, const std::string& path, std::map<const float*, std::string>& out) {
  out.emplace(c.weight, path + ".weight");
  out.emplace(c.bias, path + ".bias");
}
void collect(const DNorm& n, const std::string& path, std::map<const float*, std::string>& out) {
  out.emplace(n.gamma, path + ".weight");
  out.emplace(n.beta, path + ".bias");
}
void collect(const DResnet& b, const std::string& p, std::map<const float*, std::string>& out) {
  collect(b.norm1, p + ".norm1", out);
  collect(b.conv1, p + ".conv1", out);
  collect(b.norm2, p + ".norm2", out);
  collect(b.conv2, p + ".conv2", out);
  if (b.has_shortcut) collect(b.nin_shortcut, p + ".nin_shortcut", out);
}
void collect(const DAttn& a, const std::string& p, std::map<const float*, std::string>& out) {
  collect(a.norm, p + ".norm", out);
  collect(a.q, p + ".q", out);
  collect(a.k, p + ".k", out);
  collect(a.v, p + ".v", out);
  collect(a.proj_out, p + ".proj_out", out);
}
void collect(const DMid& m, const std::string& p, std::map<const float*, std::string>& out) {
  collect(m.block_1, p + ".block_1", out);
  collect(m.attn_1, p + ".attn_1", out);
  collect(m.block_2, p + ".block_2", out);
}
void collect(const std::vector<DLevel>& lvs, const std::string& p, const char* resample,
             std::map<const float*, std::string>& out) {
  for (size_t l = 0; l < lvs.size(); ++l) {
    const std::string lp = p + "." + std::to_string(l);
    for (size_t b = 0; b < lvs[l].block.size(); ++b) collect(lvs[l].block[b], lp + ".block." + std::to_string(b), out);
    for (size_t a = 0; a < lvs[l].attn.size(); ++a) collect(lvs[l].attn[a], lp + ".attn." + std::to_string(a), out);
    if (lvs[l].has_resample) collect(lvs[l].resample, lp + "." + resample + ".conv", out);
  }
}

TEST(CudaVqLayout, BindsEveryTensorByItsStateDictName) {
  const vq::IbqModel& model = fixture_model();
  const WeightLayout layout = WeightLayout::of(model);
  // A host copy of what upload_weights puts on the device.
  std::vector<float> host(layout.total_floats(), NAN);
  size_t tensors = 0;
  model.for_each_parameter([&](const std::string& name, const std::vector<int64_t>& shape,
                               const std::vector<float>& data) {
    const TensorSlot& s = layout.at(name, shape);
    EXPECT_EQ(s.offset % 64, 0u) << name;
    EXPECT_EQ(s.count, data.size()) << name;
    std::copy(data.begin(), data.end(), host.begin() + long(s.offset));
    ++tensors;
  });
  ASSERT_EQ(layout.slots().size(), tensors);
  ASSERT_EQ(tensors, vq::IbqModel::expected_tensors(model.config()).size());

  const IbqDeviceWeights w = bind_weights(model.config(), layout, host.data());
  std::map<const float*, std::string> bound;
  collect(w.enc_conv_in, "encoder.conv_in", bound);
  collect(w.down, "encoder.down", "downsample", bound);
  collect(w.enc_mid, "encoder.mid", bound);
  collect(w.enc_norm_out, "encoder.norm_out", bound);
  collect(w.enc_conv_out, "encoder.conv_out", bound);
  collect(w.quant_conv, "quant_conv", bound);
  collect(w.post_quant_conv, "post_quant_conv", bound);
  bound.emplace(w.codebook, "quantize.embedding.weight");
  collect(w.dec_conv_in, "decoder.conv_in", bound);
  collect(w.dec_mid, "decoder.mid", bound);
  collect(w.up, "decoder.up", "upsample", bound);
  collect(w.dec_norm_out, "decoder.norm_out", bound);
  collect(w.dec_conv_out, "decoder.conv_out", bound);
  // Each tree field points at the tensor of the same name, and no tensor is left out.
  EXPECT_EQ(bound.size(), tensors);
  for (const auto& [ptr, path] : bound) {
    const auto it = layout.slots().find(path);
    ASSERT_NE(it, layout.slots().end()) << path;
    EXPECT_EQ(ptr, host.data() + it->second.offset) << path;
  }
  // Shapes the forward pass relies on.
  const IbqConfig& c = model.config();
  EXPECT_EQ(w.enc_conv_in.cin, c.in_channels);
  EXPECT_EQ(w.dec_conv_in.cout, c.level_channels(c.num_levels() - 1));
  EXPECT_EQ(w.up.back().block.front().conv1.cin, c.level_channels(c.num_levels() - 1));
  EXPECT_EQ(w.up.front().block.size(), size_t(c.num_res_blocks + 1));
  EXPECT_FALSE(w.down.back().has_resample);
  EXPECT_FALSE(w.up.front().has_resample);
  EXPECT_EQ(w.dec_conv_out.cout, c.out_ch);
  // The values: the codebook row 5 is there.
  const float* row5 = w.codebook + 5 * c.embed_dim;
  model.for_each_parameter([&](const std::string& name, const std::vector<int64_t>&, const std::vector<float>& data) {
    if (name == "quantize.embedding.weight") {
      EXPECT_TRUE(std::equal(row5, row5 + c.embed_dim, data.begin() + 5 * c.embed_dim));
    }
  });
}

TEST(CudaVqLayout, ConfigMismatchIsAnErrorNamingTheTensor) {
  const vq::IbqModel& model = fixture_model();
  const WeightLayout layout = WeightLayout::of(model);
  std::vector<float> host(layout.total_floats());
  IbqConfig more = model.config();
  more.num_res_blocks += 1;
  try {
    bind_weights(more, layout, host.data());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.down.0.block.1"), std::string::npos) << e.what();
  }
  IbqConfig wider = model.config();
  wider.ch *= 2;
  try {
    bind_weights(wider, layout, host.data());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.conv_in.weight"), std::string::npos) << e.what();
  }
  // A config with fewer blocks leaves tensors unused: also an error.
  const vq::IbqModel two = vq::IbqModel::random(more, 3);
  const WeightLayout big = WeightLayout::of(two);
  std::vector<float> host2(big.total_floats());
  EXPECT_THROW(bind_weights(model.config(), big, host2.data()), Error);
}

// Independent count: every 4-d conv weight in the state dict times the
// pixels of the level its name places it at, plus 4 N^2 C per attention
// block and the codebook search.
IbqFlops flops_from_names(const IbqConfig& c, int height, int width, bool encode) {
  const std::regex level_re(R"(^(encoder\.down|decoder\.up)\.(\d+)\.)");
  const int f = int(c.downsample_factor());
  const double full = double(height) * width;
  auto pixels_at_level = [&](int l) { return full / std::pow(4.0, l); };
  IbqFlops out;
  for (const auto& [name, shape] : vq::IbqModel::expected_tensors(c)) {
    const bool enc = name.rfind("encoder.", 0) == 0 || name.rfind("quant_conv", 0) == 0;
    const bool dec = name.rfind("decoder.", 0) == 0 || name.rfind("post_quant_conv", 0) == 0;
    if ((encode && !enc) || (!encode && !dec)) continue;
    if (shape.size() != 4) continue;
    double pixels = 0;
    std::smatch m;
    if (std::regex_search(name, m, level_re)) {
      const int l = std::stoi(m[2]);
      if (name.find("downsample") != std::string::npos) pixels = pixels_at_level(l + 1);
      else if (name.find("upsample") != std::string::npos) pixels = pixels_at_level(l - 1);
      else pixels = pixels_at_level(l);
    } else if (name.find("conv_in") != std::string::npos) {
      pixels = encode ? full : full / (f * f);
    } else if (name.find("conv_out") != std::string::npos) {
      pixels = encode ? full / (f * f) : full;
    } else {
      pixels = full / (f * f);  // mid, quant_conv, post_quant_conv
    }
    const double flops = 2.0 * double(shape[0]) * double(shape[1]) * double(shape[2]) * double(shape[3]) * pixels;
    out.conv += flops;
    if (name.size() > 9 && name.compare(name.size() - 9, 9, ".q.weight") == 0)
      out.attention += 4.0 * pixels * pixels * double(shape[0]);
  }
  if (encode) out.codebook = 2.0 * (full / (f * f)) * double(c.n_embed) * double(c.embed_dim);
  return out;
}

TEST(CudaVqLayout, FlopCountsMatchAnIndependentCount) {
  for (const IbqConfig& c : {fixture_model().config(), full_config()}) {
    for (auto [h, w] : {std::pair{1024, 1024}, std::pair{208, 320}, std::pair{64, 48}}) {
      SCOPED_TRACE(std::to_string(c.ch) + " ch, " + std::to_string(w) + "x" + std::to_string(h));
      const int f = int(c.downsample_factor());
      const IbqFlops e = ibq_encode_flops(c, h, w), e2 = flops_from_names(c, h, w, true);
      EXPECT_NEAR(e.conv, e2.conv, 1e-9 * e2.conv);
      EXPECT_NEAR(e.attention, e2.attention, 1e-9 * e2.attention);
      EXPECT_NEAR(e.codebook, e2.codebook, 1e-9 * e2.codebook);
      const IbqFlops d = ibq_decode_flops(c, h / f, w / f), d2 = flops_from_names(c, h, w, false);
      EXPECT_NEAR(d.conv, d2.conv, 1e-9 * d2.conv);
      EXPECT_NEAR(d.attention, d2.attention, 1e-9 * d2.attention);
      EXPECT_EQ(d.codebook, 0.0);
      EXPECT_GT(e.attention, 0.0);
    }
  }
  // The benchmark's sizes, for the record.
  const IbqFlops d = ibq_decode_flops(full_config(), 64, 64);
  const IbqFlops e = ibq_encode_flops(full_config(), 1024, 1024);
  ::testing::Test::RecordProperty("decode_64x64_tflop", std::to_string(d.total() * 1e-12));
  ::testing::Test::RecordProperty("encode_1024_tflop", std::to_string(e.total() * 1e-12));
}

TEST(CudaVqLayout, MissingGpuIsAClearError) {
  auto model = std::make_shared<const vq::IbqModel>(fixture_model());
  if (device_count() == 0) {
    try {
      make_cuda_codec(model, 0);
      FAIL() << "expected an Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no CUDA GPU"), std::string::npos) << e.what();
    }
  } else {
    try {
      make_cuda_codec(model, 1000);
      FAIL() << "expected an Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cuda:1000"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace emu35::cuda::ibq
