// smart_resize / resize_bicubic against the upstream (PIL) fixtures: byte-exact.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "codec_test_util.h"
#include "common/error.h"
#include "image/image_read.h"
#include "image/resize.h"
#include "test_support.h"

namespace emu35 {
namespace {

struct ResizeCase {
  std::string source, file;
  int src_w = 0, src_h = 0, w = 0, h = 0;
  int64_t area = 0;
};

std::vector<ResizeCase> resize_cases() {
  const auto j = nlohmann::json::parse(test::read_file(test::fixture("cases.json")));
  std::vector<ResizeCase> out;
  for (const auto& c : j.at("resize")) {
    ResizeCase r;
    r.source = c.at("source").get<std::string>();
    r.file = c.at("file").get<std::string>();
    r.src_w = c.at("source_size").at(0).get<int>();
    r.src_h = c.at("source_size").at(1).get<int>();
    r.area = c.at("area").get<int64_t>();
    r.w = c.at("size").at(0).get<int>();
    r.h = c.at("size").at(1).get<int>();
    out.push_back(r);
  }
  return out;
}

TEST(SmartResize, FixtureCasesAreAllPresent) {
  const auto cases = resize_cases();
  EXPECT_EQ(cases.size(), 9u);
  // Covers downscaling and the 37x23 upscale.
  bool up = false, down = false;
  for (const auto& c : cases) {
    up |= c.w > c.src_w;
    down |= c.w < c.src_w;
  }
  EXPECT_TRUE(up);
  EXPECT_TRUE(down);
}

TEST(SmartResize, SizeMatchesEveryFixture) {
  for (const auto& c : resize_cases()) {
    const auto [w, h] = smart_resize_size(c.src_w, c.src_h, c.area);
    EXPECT_EQ(w, c.w) << c.file;
    EXPECT_EQ(h, c.h) << c.file;
  }
}

TEST(SmartResize, SizeOfDocumentedExamples) {
  // docs/emu35-pipeline.md 4.5: 1024x768 at 1 MP -> 1184x880; a square -> 1024x1024.
  EXPECT_EQ(smart_resize_size(1024, 768, 1048576), std::make_pair(1184, 880));
  EXPECT_EQ(smart_resize_size(500, 500, 1048576), std::make_pair(1024, 1024));
  // Rounding is to the *nearest* multiple of 16: 51 -> 48, 78 -> 80 (ref_0 at 4096).
  EXPECT_EQ(smart_resize_size(768, 496, 4096), std::make_pair(80, 48));
}

TEST(SmartResize, EveryFixtureIsByteIdentical) {
  for (const auto& c : resize_cases()) {
    SCOPED_TRACE(c.file);
    const Image src = read_image(test::fixture("images/" + c.source + ".png"));
    ASSERT_EQ(src.width, c.src_w);
    ASSERT_EQ(src.height, c.src_h);
    const Image got = smart_resize(src, c.area);
    const Image want = read_image(test::fixture("images/" + c.file));
    ASSERT_EQ(got.width, want.width);
    ASSERT_EQ(got.height, want.height);
    ASSERT_EQ(got.rgb.size(), want.rgb.size());
    size_t mismatches = 0, first = 0;
    for (size_t i = 0; i < got.rgb.size(); ++i)
      if (got.rgb[i] != want.rgb[i] && mismatches++ == 0) first = i;
    EXPECT_EQ(mismatches, 0u) << "first differing byte " << first << ": got "
                              << int(got.rgb[first]) << ", want " << int(want.rgb[first]);
  }
}

TEST(SmartResize, ZeroSideIsAnError) {
  // 4000x1 at area 4096: nh = int(sqrt(1.024)) = 1 -> rounds to 0.
  try {
    smart_resize_size(4000, 1, 4096);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4000x1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(smart_resize_size(0, 10, 4096), Error);
  EXPECT_THROW(smart_resize_size(10, 10, 0), Error);
  EXPECT_THROW(smart_resize(Image{}, 4096), Error);
}

Image pattern(int w, int h, unsigned seed) {
  Image img = Image::blank(w, h);
  for (auto& v : img.rgb) {
    seed = seed * 1103515245u + 12345u;
    v = uint8_t(seed >> 16);
  }
  return img;
}

TEST(ResizeBicubic, SameSizeIsACopy) {
  const Image src = pattern(13, 7, 1);
  const Image out = resize_bicubic(src, 13, 7);
  EXPECT_EQ(out.rgb, src.rgb);
}

TEST(ResizeBicubic, FlatPictureStaysFlat) {
  // Weights sum to 1 (within fixed-point rounding), so a constant stays
  // constant in every direction: shrink, grow, one axis only.
  Image flat = Image::blank(50, 30);
  for (size_t i = 0; i < flat.rgb.size(); i += 3) {
    flat.rgb[i] = 200;
    flat.rgb[i + 1] = 17;
    flat.rgb[i + 2] = 255;
  }
  for (auto [w, h] : {std::pair{16, 9}, std::pair{123, 71}, std::pair{50, 11}, std::pair{7, 30}}) {
    const Image out = resize_bicubic(flat, w, h);
    ASSERT_EQ(out.width, w);
    ASSERT_EQ(out.height, h);
    for (size_t i = 0; i < out.rgb.size(); i += 3) {
      ASSERT_EQ(out.rgb[i], 200) << w << "x" << h;
      ASSERT_EQ(out.rgb[i + 1], 17) << w << "x" << h;
      ASSERT_EQ(out.rgb[i + 2], 255) << w << "x" << h;
    }
  }
}

TEST(ResizeBicubic, SeparableAxesCompose) {
  // PIL resizes horizontally then vertically; doing the two one-axis resizes
  // in that order by hand must give the very same bytes (exercises the
  // width-only and height-only paths and the row window of the first pass).
  const Image src = pattern(97, 61, 7);
  const Image both = resize_bicubic(src, 40, 25);
  const Image h_only = resize_bicubic(src, 40, 61);
  const Image v_after = resize_bicubic(h_only, 40, 25);
  EXPECT_EQ(both.rgb, v_after.rgb);
}

TEST(ResizeBicubic, RejectsBadArguments) {
  const Image src = pattern(8, 8, 3);
  EXPECT_THROW(resize_bicubic(src, 0, 8), Error);
  EXPECT_THROW(resize_bicubic(src, 8, -1), Error);
  Image broken = Image::blank(8, 8);
  broken.rgb.resize(10);
  EXPECT_THROW(resize_bicubic(broken, 4, 4), Error);
}

TEST(ResizeBicubic, ThreadCountDoesNotChangeBytes) {
  // Large enough to take the OpenMP paths; compare with a single thread.
  const Image src = pattern(700, 500, 11);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(std::max(2, saved));
  const Image multi = resize_bicubic(src, 333, 222);
  omp_set_num_threads(1);
  const Image single = resize_bicubic(src, 333, 222);
  omp_set_num_threads(saved);
  EXPECT_EQ(multi.rgb, single.rgb);
}

}  // namespace
}  // namespace emu35
