// IBQ parity against the upstream reference (cases.json "vq"): for each case,
// smart_resize size exact, latent and decoded floats within 1e-4 x max |ref|,
// codes exact, decoded PNG within 1 per channel. The model is the fixture's
// config.yaml + model.ckpt, and the same weights re-saved by the test as
// config.json + model.safetensors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "formats/safetensors.h"
#include "image/image_read.h"
#include "image/resize.h"
#include "test_support.h"
#include "vq/ibq_model.h"

namespace fs = std::filesystem;

namespace emu35::vq {
namespace {

struct VqCase {
  std::string source, tensors, decoded_png;
  int64_t area = 0;
  int w = 0, h = 0, th = 0, tw = 0;
};

std::vector<VqCase> vq_cases() {
  const auto j = nlohmann::json::parse(test::read_file(test::fixture("cases.json")));
  std::vector<VqCase> out;
  for (const auto& c : j.at("vq")) {
    VqCase v;
    v.source = c.at("source").get<std::string>();
    v.area = c.at("area").get<int64_t>();
    v.w = c.at("size").at(0).get<int>();
    v.h = c.at("size").at(1).get<int>();
    v.th = c.at("tokens_hw").at(0).get<int>();
    v.tw = c.at("tokens_hw").at(1).get<int>();
    v.tensors = c.at("tensors").get<std::string>();
    v.decoded_png = c.at("decoded_png").get<std::string>();
    out.push_back(v);
  }
  return out;
}

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

const IbqModel& fixture_model() {
  static const IbqModel m = IbqModel::load(test::fixture("vq"));
  return m;
}

TEST(IbqParity, FixtureHasCases) { ASSERT_EQ(vq_cases().size(), 3u); }

void check_case(const IbqModel& model, const VqCase& c, bool check_decode) {
  SCOPED_TRACE(c.tensors);
  const SafeTensors ref = SafeTensors::open(test::fixture(c.tensors));

  // smart_resize: exact size (pixels are checked byte-exact by the image tests).
  const Image src = read_image(test::fixture("images/" + c.source + ".png"));
  const Image img = smart_resize(src, c.area);
  ASSERT_EQ(img.width, c.w);
  ASSERT_EQ(img.height, c.h);
  const fs::path resized_png = test::fixture("images/resize_" + c.source + "_" + std::to_string(c.area) + ".png");
  if (fs::exists(resized_png)) {
    EXPECT_EQ(img.rgb, read_image(resized_png).rgb) << resized_png;
  }

  // latent: encoder + quant_conv.
  const FeatureMap latent = model.encode_latent(img);
  const auto& lt = ref.get("latent");
  ASSERT_EQ((std::vector<int64_t>{latent.c, latent.h, latent.w}), lt.shape);
  ASSERT_EQ(latent.h, c.th);
  ASSERT_EQ(latent.w, c.tw);
  const std::vector<float> ref_latent = ref.to_f32("latent");
  const double lat_err = test::rel_max_error(latent.data.data(), ref_latent.data(), ref_latent.size());
  EXPECT_LE(lat_err, 1e-4);
  ::testing::Test::RecordProperty("latent_rel_err_" + c.source, sci(lat_err));

  // codes: exact.
  const CodeGrid codes = model.quantize(latent);
  const std::vector<int64_t> ref_codes = ref.to_i64("codes");
  ASSERT_EQ(codes.codes.size(), ref_codes.size());
  for (size_t i = 0; i < ref_codes.size(); ++i) EXPECT_EQ(codes.codes[i], ref_codes[i]) << "position " << i;
  // The reference latent quantizes to the reference codes too (the argmax alone).
  FeatureMap ref_lat_map(latent.c, latent.h, latent.w);
  ref_lat_map.data = ref_latent;
  const CodeGrid from_ref = model.quantize(ref_lat_map);
  for (size_t i = 0; i < ref_codes.size(); ++i) EXPECT_EQ(from_ref.codes[i], ref_codes[i]) << "position " << i;

  if (!check_decode) return;
  // decoded floats from the reference codes.
  CodeGrid g{c.th, c.tw, {}};
  for (int64_t v : ref_codes) g.codes.push_back(int32_t(v));
  const FeatureMap dec = model.decode_float(g);
  const auto& dt = ref.get("decoded");
  ASSERT_EQ((std::vector<int64_t>{dec.c, dec.h, dec.w}), dt.shape);
  const std::vector<float> ref_dec = ref.to_f32("decoded");
  const double dec_err = test::rel_max_error(dec.data.data(), ref_dec.data(), ref_dec.size());
  EXPECT_LE(dec_err, 1e-4);
  ::testing::Test::RecordProperty("decoded_rel_err_" + c.source, sci(dec_err));

  // PNG: ours within 1 per channel; the reference floats through our uint8
  // conversion give the reference PNG exactly (the formula itself).
  const Image png = read_image(test::fixture(c.decoded_png));
  const Image ours = IbqModel::image_from_float(dec);
  FeatureMap ref_dec_map(dec.c, dec.h, dec.w);
  ref_dec_map.data = ref_dec;
  const Image from_ref_floats = IbqModel::image_from_float(ref_dec_map);
  ASSERT_EQ(png.width, ours.width);
  ASSERT_EQ(png.height, ours.height);
  int max_diff = 0;
  size_t off_by_one = 0;
  for (size_t i = 0; i < png.rgb.size(); ++i) {
    const int d = std::abs(int(png.rgb[i]) - int(ours.rgb[i]));
    max_diff = std::max(max_diff, d);
    off_by_one += d != 0;
  }
  EXPECT_LE(max_diff, 1);
  EXPECT_EQ(from_ref_floats.rgb, png.rgb);
  ::testing::Test::RecordProperty("png_pixels_off_by_one_" + c.source, std::to_string(off_by_one));
}

TEST(IbqParity, CheckpointFormMatchesReference) {
  for (const VqCase& c : vq_cases()) check_case(fixture_model(), c, true);
}

TEST(IbqParity, SafetensorsFormWrittenFromCheckpointMatches) {
  test::TempDir dir("ibq-st");
  fixture_model().save(dir.path());
  ASSERT_TRUE(fs::exists(dir / "config.json"));
  ASSERT_TRUE(fs::exists(dir / "model.safetensors"));
  ASSERT_FALSE(fs::exists(dir / "model.ckpt"));
  const IbqModel st_model = IbqModel::load(dir.path());
  EXPECT_EQ(st_model.num_parameters(), fixture_model().num_parameters());
  for (const VqCase& c : vq_cases()) {
    check_case(st_model, c, false);
    // Same weights, same math: bit-identical latents and identical codes.
    const Image img = smart_resize(read_image(test::fixture("images/" + c.source + ".png")), c.area);
    const FeatureMap a = fixture_model().encode_latent(img);
    const FeatureMap b = st_model.encode_latent(img);
    EXPECT_EQ(a.data, b.data) << c.tensors;
    EXPECT_EQ(fixture_model().quantize(a).codes, st_model.quantize(b).codes) << c.tensors;
  }
}

}  // namespace
}  // namespace emu35::vq
