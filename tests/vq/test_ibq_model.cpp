// IbqModel: layout from the config, strict loading, directory forms, random
// weights, input checks, the uint8 conversion and the code-grid JSON.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "formats/ibq_config.h"
#include "formats/torch_checkpoint.h"
#include "test_support.h"
#include "vq/code_grid.h"
#include "vq/ibq_model.h"

namespace fs = std::filesystem;

namespace emu35::vq {
namespace {

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg << "\n  (missing '" << f << "')";
  }
}

IbqConfig fixture_config() { return IbqConfig::load(test::fixture("vq/config.yaml")); }
IbqConfig full_config() {
  return IbqConfig::load(test::fixtures_dir().parent_path().parent_path() / "configs/emu3.5-visiontokenizer.yaml");
}

Image test_picture(int w, int h) {
  Image img = Image::blank(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.row(y) + 3 * x;
      p[0] = uint8_t(x * 7 + y);
      p[1] = uint8_t(y * 5);
      p[2] = uint8_t((x ^ y) * 3);
    }
  return img;
}

TEST(IbqModel, LayoutMatchesFixtureCheckpoint) {
  const auto expected = IbqModel::expected_tensors(fixture_config());
  const StateDict sd = load_torch_checkpoint(test::fixture("vq/model.ckpt"));
  ASSERT_EQ(expected.size(), sd.size());
  for (const auto& [name, shape] : expected) {
    auto it = sd.find(name);
    ASSERT_NE(it, sd.end()) << name;
    EXPECT_EQ(it->second.shape, shape) << name;
  }
}

TEST(IbqModel, FullSizeParameterCount) {
  // Doc figures: 184.5M encoder + 237.1M decoder + 33.7M codebook and 1x1 convs = 455.3M.
  int64_t enc = 0, dec = 0, other = 0;
  for (const auto& [name, shape] : IbqModel::expected_tensors(full_config())) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    (name.rfind("encoder.", 0) == 0 ? enc : name.rfind("decoder.", 0) == 0 ? dec : other) += n;
  }
  EXPECT_NEAR(enc / 1e6, 184.5, 0.05);
  EXPECT_NEAR(dec / 1e6, 237.1, 0.05);
  EXPECT_NEAR(other / 1e6, 33.7, 0.05);
  EXPECT_NEAR((enc + dec + other) / 1e6, 455.3, 0.05);
}

TEST(IbqModel, StrictLoadNamesTheProblem) {
  const IbqConfig cfg = fixture_config();
  const StateDict good = load_torch_checkpoint(test::fixture("vq/model.ckpt"));
  EXPECT_NO_THROW(IbqModel::from_state_dict(cfg, good, "good.ckpt"));
  {
    StateDict sd = good;
    sd.erase("decoder.up.1.block.0.nin_shortcut.bias");
    expect_error([&] { IbqModel::from_state_dict(cfg, sd, "m.ckpt"); },
                 {"m.ckpt", "missing 1 tensor(s): decoder.up.1.block.0.nin_shortcut.bias"});
  }
  {
    StateDict sd = good;
    sd["quant_conv.weight"].shape = {32, 64};
    expect_error([&] { IbqModel::from_state_dict(cfg, sd, "s.ckpt"); },
                 {"s.ckpt", "wrong shape: quant_conv.weight is [32, 64], expected [32, 64, 1, 1]"});
  }
  {
    StateDict sd = good;
    sd["encoder.extra.weight"] = FloatTensor{{1}, {0.0f}};
    expect_error([&] { IbqModel::from_state_dict(cfg, sd, "u.ckpt"); },
                 {"u.ckpt", "unexpected 1 tensor(s): encoder.extra.weight"});
  }
  {
    IbqConfig other = cfg;  // weights of a different shape of model
    other.num_res_blocks = 2;
    expect_error([&] { IbqModel::from_state_dict(other, good, "cfg.ckpt"); },
                 {"cfg.ckpt", "missing", "encoder.down.0.block.1.norm1.weight", "more)"});
  }
}

TEST(IbqModel, DirectoryForms) {
  test::TempDir dir("ibq-dir");
  expect_error([&] { IbqModel::load(dir / "absent"); }, {"absent", "not a directory"});
  expect_error([&] { IbqModel::load(dir.path()); }, {"no config.json or config.yaml"});
  test::write_file(dir / "config.yaml", test::read_file(test::fixture("vq/config.yaml")));
  expect_error([&] { IbqModel::load(dir.path()); }, {"no model.safetensors or model.ckpt"});

  // config.yaml + model.ckpt (upstream form)
  fs::copy_file(test::fixture("vq/model.ckpt"), dir / "model.ckpt");
  const IbqModel from_ckpt = IbqModel::load(dir.path());
  // Adding config.json + model.safetensors (here: other, random weights) switches to them.
  IbqModel::random(fixture_config(), 7).save(dir.path());
  const IbqModel from_st = IbqModel::load(dir.path());
  const IbqModel rnd = IbqModel::random(fixture_config(), 7);
  const Image img = test_picture(32, 48);
  EXPECT_EQ(from_st.encode_latent(img).data, rnd.encode_latent(img).data);
  EXPECT_NE(from_st.encode_latent(img).data, from_ckpt.encode_latent(img).data);

  // A damaged safetensors file is reported, not skipped.
  test::write_file(dir / "model.safetensors", "garbage");
  expect_error([&] { IbqModel::load(dir.path()); }, {"model.safetensors"});
}

TEST(IbqModel, RandomWeightsAreDeterministic) {
  IbqConfig cfg = fixture_config();
  const IbqModel a = IbqModel::random(cfg, 1), b = IbqModel::random(cfg, 1), c = IbqModel::random(cfg, 2);
  EXPECT_EQ(a.num_parameters(), IbqModel::load(test::fixture("vq")).num_parameters());
  const Image img = test_picture(48, 32);
  const FeatureMap la = a.encode_latent(img);
  EXPECT_EQ(la.c, 32);
  EXPECT_EQ(la.h, 2);
  EXPECT_EQ(la.w, 3);
  EXPECT_EQ(la.data, b.encode_latent(img).data);
  EXPECT_NE(la.data, c.encode_latent(img).data);
  const CodeGrid g = a.encode(img);
  ASSERT_EQ(g.codes.size(), 6u);
  for (int32_t code : g.codes) EXPECT_TRUE(code >= 0 && code < cfg.n_embed);
  const Image out = a.decode(g);
  EXPECT_EQ(out.width, 48);
  EXPECT_EQ(out.height, 32);
  for (float v : a.decode_float(g).data) ASSERT_TRUE(std::isfinite(v));
}

TEST(IbqModel, RejectsBadInputs) {
  const IbqModel m = IbqModel::random(fixture_config(), 3);
  expect_error([&] { m.encode(test_picture(20, 32)); }, {"20x32", "16x16"});
  expect_error([&] { m.encode(Image{}); }, {"no pixels"});
  expect_error([&] { m.decode(CodeGrid{1, 2, {0, 64}}); }, {"code 64", "row 0, column 1", "[0, 64)"});
  expect_error([&] { m.decode(CodeGrid{1, 1, {-1}}); }, {"code -1"});
  expect_error([&] { m.decode(CodeGrid{2, 2, {0, 1, 2}}); }, {"code grid"});
  expect_error([&] { m.decode(CodeGrid{}); }, {"code grid"});
}

TEST(IbqModel, FloatToPixelsTruncatesLikeUpstream) {
  FeatureMap x(3, 1, 4);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  x.data = {-1.0f, 0.0f, 0.999f, 2.0f,   // R: 0, 127 (127.5 truncated), 254 (254.87), 255 (clamped)
            -3.0f, 1.0f, nan, -0.996f,   // G: 0, 255, 0 (NaN), 0 (0.51 truncated)
            0.5f, -0.5f, 0.01f, 0.0039f};  // B: 191 (191.25), 63 (63.75), 128 (128.775), 127 (127.997)
  const Image img = IbqModel::image_from_float(x);
  const std::vector<uint8_t> want = {0, 0, 191, 127, 255, 63, 254, 0, 128, 255, 0, 127};
  EXPECT_EQ(img.rgb, want);
  FeatureMap gray(1, 1, 1);
  expect_error([&] { IbqModel::image_from_float(gray); }, {"1 output channels"});
}

TEST(IbqModel, PixelsScaleToMinusOneOne) {
  Image img = Image::blank(1, 1);
  img.rgb = {0, 255, 128};
  const FeatureMap x = IbqModel::pixels_from_image(img);
  EXPECT_EQ(x.data[0], -1.0f);
  EXPECT_EQ(x.data[1], 1.0f);
  EXPECT_EQ(x.data[2], float(128.0 / 127.5 - 1.0));
}

TEST(CodeGridJson, RoundTripAndErrors) {
  const CodeGrid g{2, 3, {1, 2, 3, 4, 5, 63}};
  const std::string js = code_grid_to_json(g);
  const CodeGrid back = code_grid_from_json(js, "g.json", 64);
  EXPECT_EQ(back.h, 2);
  EXPECT_EQ(back.w, 3);
  EXPECT_EQ(back.codes, g.codes);
  EXPECT_EQ(code_grid_from_json("[[7, 8]]", "bare.json", 64).codes, (std::vector<int32_t>{7, 8}));

  expect_error([&] { code_grid_from_json(js, "small.json", 10); }, {"small.json", "code 63 at row 1, column 2", "[0, 10)"});
  expect_error([&] { code_grid_from_json(R"({"codes": [[1, 2], [3]]})", "ragged.json", 64); },
               {"ragged.json", "row 1 has 1 entries, row 0 has 2"});
  expect_error([&] { code_grid_from_json(R"({"codes": [[1, 2.5]]})", "f.json", 64); }, {"f.json", "row 0, column 1", "not an integer"});
  expect_error([&] { code_grid_from_json(R"({"codes": [[-1]]})", "neg.json", 64); }, {"neg.json", "code -1"});
  expect_error([&] { code_grid_from_json(R"({"height": 3, "codes": [[1]]})", "h.json", 64); }, {"h.json", "\"height\""});
  expect_error([&] { code_grid_from_json(R"({"codes": []})", "e.json", 64); }, {"e.json", "non-empty"});
  expect_error([&] { code_grid_from_json(R"({"rows": [[1]]})", "k.json", 64); }, {"k.json", "missing field \"codes\""});
  expect_error([&] { code_grid_from_json("{", "bad.json", 64); }, {"bad.json", "not valid JSON"});
}

}  // namespace
}  // namespace emu35::vq
