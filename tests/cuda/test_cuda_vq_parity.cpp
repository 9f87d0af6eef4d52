// The IBQ codec on the GPU against the upstream reference fixtures (cases.json
// "vq") and against the CPU backend: latents and decoded floats within
// 1e-4 x max |ref|, codes exact, decoded PNG within 1 per channel; small
// random models of other shapes; errors for bad input; concurrent calls.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "cuda/vq_codec_cuda.h"
#include "formats/safetensors.h"
#include "image/image_read.h"
#include "image/resize.h"
#include "test_cuda_vq_util.h"
#include "test_support.h"
#include "vq/ibq_model.h"

namespace emu35::cuda {
namespace {

using ibq::vqtest::rel_err;

struct VqCase {
  std::string source, tensors, decoded_png;
  int64_t area = 0;
  int th = 0, tw = 0;
};

std::vector<VqCase> vq_cases() {
  const auto j = nlohmann::json::parse(test::read_file(test::fixture("cases.json")));
  std::vector<VqCase> out;
  for (const auto& c : j.at("vq")) {
    VqCase v;
    v.source = c.at("source").get<std::string>();
    v.area = c.at("area").get<int64_t>();
    v.th = c.at("tokens_hw").at(0).get<int>();
    v.tw = c.at("tokens_hw").at(1).get<int>();
    v.tensors = c.at("tensors").get<std::string>();
    v.decoded_png = c.at("decoded_png").get<std::string>();
    out.push_back(v);
  }
  return out;
}

std::shared_ptr<const vq::IbqModel> fixture_model() {
  static const auto m = std::make_shared<const vq::IbqModel>(vq::IbqModel::load(test::fixture("vq")));
  return m;
}

CudaVqCodec& fixture_codec() {
  static CudaVqCodec* c = new CudaVqCodec(fixture_model(), 0);
  return *c;
}

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

int max_pixel_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  if (a.rgb.size() != b.rgb.size()) return 256;
  int m = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) m = std::max(m, std::abs(int(a.rgb[i]) - int(b.rgb[i])));
  return m;
}

TEST(CudaVqParity, FixtureCasesMatchReference) {
  EMU35_SKIP_WITHOUT_GPU();
  const CudaVqCodec& gpu = fixture_codec();
  const std::vector<VqCase> cases = vq_cases();
  ASSERT_EQ(cases.size(), 3u);
  for (const VqCase& c : cases) {
    SCOPED_TRACE(c.tensors);
    const SafeTensors ref = SafeTensors::open(test::fixture(c.tensors));
    const Image img = smart_resize(read_image(test::fixture("images/" + c.source + ".png")), c.area);

    // latent within 1e-4 of the reference; the same from pixels uploaded as floats.
    const vq::FeatureMap latent = gpu.encode_latent(img);
    vq::FeatureMap ref_latent(latent.c, latent.h, latent.w);
    ASSERT_EQ((std::vector<int64_t>{latent.c, latent.h, latent.w}), ref.get("latent").shape);
    ASSERT_EQ(latent.h, c.th);
    ASSERT_EQ(latent.w, c.tw);
    ref_latent.data = ref.to_f32("latent");
    const double lat_err = rel_err(latent, ref_latent);
    EXPECT_LE(lat_err, 1e-4);
    ::testing::Test::RecordProperty("gpu_latent_rel_err_" + c.source, sci(lat_err));
    // (Separate runs: equal up to summation order, should an algorithm not be deterministic.)
    EXPECT_LE(rel_err(gpu.encode_latent(vq::IbqModel::pixels_from_image(img)), latent), 1e-6);

    // codes: exact, from the picture and from the reference latent.
    const std::vector<int64_t> ref_codes = ref.to_i64("codes");
    const vq::CodeGrid codes = gpu.encode(img);
    ASSERT_EQ(codes.h, c.th);
    ASSERT_EQ(codes.w, c.tw);
    ASSERT_EQ(codes.codes.size(), ref_codes.size());
    for (size_t i = 0; i < ref_codes.size(); ++i) EXPECT_EQ(codes.codes[i], ref_codes[i]) << "position " << i;
    const vq::CodeGrid from_ref = gpu.quantize(ref_latent);
    for (size_t i = 0; i < ref_codes.size(); ++i) EXPECT_EQ(from_ref.codes[i], ref_codes[i]) << "position " << i;

    // decoded floats from the reference codes; the PNG within 1, and within 1 of the CPU's.
    vq::CodeGrid g{c.th, c.tw, {}};
    for (int64_t v : ref_codes) g.codes.push_back(int32_t(v));
    const vq::FeatureMap dec = gpu.decode_float(g);
    vq::FeatureMap ref_dec(dec.c, dec.h, dec.w);
    ASSERT_EQ((std::vector<int64_t>{dec.c, dec.h, dec.w}), ref.get("decoded").shape);
    ref_dec.data = ref.to_f32("decoded");
    const double dec_err = rel_err(dec, ref_dec);
    EXPECT_LE(dec_err, 1e-4);
    ::testing::Test::RecordProperty("gpu_decoded_rel_err_" + c.source, sci(dec_err));
    const Image png = gpu.decode(g);
    EXPECT_LE(max_pixel_diff(png, vq::IbqModel::image_from_float(dec)), 1);  // the on-device conversion
    EXPECT_LE(max_pixel_diff(png, read_image(test::fixture(c.decoded_png))), 1);
    EXPECT_LE(max_pixel_diff(png, fixture_model()->decode(g)), 1);
  }
}

// Small random models of other shapes than the fixture's: nin_shortcut in
// the encoder, attention at two levels, 2 res blocks, non-square pictures.
TEST(CudaVqParity, RandomSmallModelsMatchCpu) {
  EMU35_SKIP_WITHOUT_GPU();
  IbqConfig cfg;
  cfg.ch = 32;
  cfg.ch_mult = {1, 2, 2};
  cfg.num_res_blocks = 2;
  cfg.attn_resolutions = {16, 8};
  cfg.resolution = 32;
  cfg.z_channels = 16;
  cfg.n_embed = 5000;
  cfg.embed_dim = 8;
  for (uint64_t seed : {1u, 2u}) {
    auto model = std::make_shared<const vq::IbqModel>(vq::IbqModel::random(cfg, seed));
    CudaVqCodec gpu(model, 0);
    for (auto [w, h] : {std::pair{32, 32}, std::pair{48, 20}, std::pair{4, 8}}) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", " + std::to_string(w) + "x" + std::to_string(h));
      Image img = Image::blank(w, h);
      for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t((i * 37 + seed * 11) % 251);
      const vq::FeatureMap cpu_latent = model->encode_latent(img);
      EXPECT_LE(rel_err(gpu.encode_latent(img), cpu_latent), 1e-4);
      const vq::CodeGrid cpu_codes = model->quantize(cpu_latent);
      const vq::CodeGrid gpu_codes = gpu.encode(img);
      EXPECT_EQ(gpu_codes.codes, cpu_codes.codes);
      EXPECT_EQ(gpu.quantize(cpu_latent).codes, cpu_codes.codes);
      EXPECT_LE(rel_err(gpu.decode_float(cpu_codes), model->decode_float(cpu_codes)), 1e-4);
    }
  }
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "no error (expected one mentioning '" << fragment << "')";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(CudaVqParity, BadInputIsAnErrorAndTheCodecStaysUsable) {
  EMU35_SKIP_WITHOUT_GPU();
  const CudaVqCodec& gpu = fixture_codec();
  expect_error([&] { gpu.encode(Image::blank(40, 32)); }, "does not divide into 16x16");
  expect_error([&] { gpu.encode(Image{16, 16, {}}); }, "IBQ encoder input");
  expect_error([&] { gpu.decode(vq::CodeGrid{2, 2, {1, 2, 64, 3}}); }, "code 64 at row 1, column 0");
  expect_error([&] { gpu.decode(vq::CodeGrid{2, 2, {1, -1, 0, 3}}); }, "outside the codebook");
  expect_error([&] { gpu.decode(vq::CodeGrid{2, 3, {1, 2}}); }, "empty or not 2x3");
  expect_error([&] { gpu.quantize(vq::FeatureMap(5, 2, 2)); }, "5 channels");
  expect_error([&] { gpu.encode_latent(vq::FeatureMap(4, 16, 16)); }, "4 channels");
  // Still fine afterwards.
  const Image img = Image::blank(32, 16);
  EXPECT_EQ(gpu.encode(img).codes, fixture_model()->encode(img).codes);
}

TEST(CudaVqParity, ConcurrentCallsAreSerialisedAndAgree) {
  EMU35_SKIP_WITHOUT_GPU();
  const CudaVqCodec& gpu = fixture_codec();
  const Image img = smart_resize(read_image(test::fixture("images/ref_1.png")), 9216);
  const vq::CodeGrid want = gpu.encode(img);
  const Image want_png = gpu.decode(want);
  std::vector<vq::CodeGrid> codes(4);
  std::vector<Image> pngs(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      codes[size_t(t)] = gpu.encode(img);
      pngs[size_t(t)] = gpu.decode(want);
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(codes[size_t(t)].codes, want.codes);
    EXPECT_LE(max_pixel_diff(pngs[size_t(t)], want_png), 1);
  }
}

}  // namespace
}  // namespace emu35::cuda
