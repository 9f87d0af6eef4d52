// Reading PNGs into RGB8 as PIL's Image.open(...).convert("RGB") does.
#include <gtest/gtest.h>
#include <png.h>

#include <string>
#include <vector>

#include "codec_test_util.h"
#include "common/error.h"
#include "image/image_format.h"
#include "image/image_read.h"
#include "test_support.h"

namespace emu35 {
namespace {

// The file's own samples (decoded here through libpng with no transforms)
// with alpha dropped: what convert("RGB") keeps for 8-bit RGB / RGBA.
std::vector<uint8_t> raw_rgb_of(const std::string& bytes, int* w, int* h, int* channels) {
  const test::RawPng raw = test::decode_png_raw(bytes);
  EXPECT_EQ(raw.bit_depth, 8);
  *w = raw.width;
  *h = raw.height;
  *channels = raw.channels;
  std::vector<uint8_t> rgb;
  for (int y = 0; y < raw.height; ++y)
    for (int x = 0; x < raw.width; ++x)
      for (int c = 0; c < 3; ++c)
        rgb.push_back(raw.data[size_t(y) * raw.rowbytes + size_t(x * raw.channels + c)]);
  return rgb;
}

TEST(ReadImage, FixturePicturesMatchTheirRawSamples) {
  struct Want {
    const char* file;
    int w, h, channels;
  };
  for (const Want& want : {Want{"images/ref_0.png", 768, 496, 3},
                           Want{"images/ref_1.png", 432, 768, 3},
                           Want{"images/synthetic_rgba.png", 37, 23, 4}}) {
    SCOPED_TRACE(want.file);
    const auto path = test::fixture(want.file);
    const Image img = read_image(path);
    int w = 0, h = 0, ch = 0;
    const auto rgb = raw_rgb_of(test::read_file(path), &w, &h, &ch);
    EXPECT_EQ(ch, want.channels);
    ASSERT_EQ(img.width, want.w);
    ASSERT_EQ(img.height, want.h);
    EXPECT_EQ(img.rgb, rgb);
  }
}

TEST(ReadImage, RgbaAlphaIsDroppedNotBlended) {
  // Fully transparent pixels keep their colour (a blend over black or white
  // would change it).
  test::PngSpec s;
  s.width = 3;
  s.height = 1;
  s.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  s.rows = {10, 20, 30, 0, 200, 100, 50, 128, 255, 255, 255, 255};
  const Image img = decode_image(test::bytes_of(test::encode_png_raw(s)), "rgba.png");
  EXPECT_EQ(img.rgb, (std::vector<uint8_t>{10, 20, 30, 200, 100, 50, 255, 255, 255}));
}

TEST(ReadImage, Grey8IsReplicated) {
  test::PngSpec s;
  s.width = 4;
  s.height = 2;
  s.color_type = PNG_COLOR_TYPE_GRAY;
  s.rows = {0, 1, 128, 255, 7, 8, 9, 10};
  const Image img = decode_image(test::bytes_of(test::encode_png_raw(s)), "grey.png");
  ASSERT_EQ(img.width, 4);
  ASSERT_EQ(img.height, 2);
  for (size_t i = 0; i < s.rows.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(img.rgb[i * 3 + size_t(c)], s.rows[i]) << i;
}

TEST(ReadImage, LowBitGreyIsScaledLikePil) {
  // PIL unpacks 1-bit as 0/255, 2-bit as v*0x55, 4-bit as v*0x11.
  struct Case {
    int depth;
    std::vector<uint8_t> row;       // one packed row
    std::vector<uint8_t> expected;  // per pixel
  };
  for (const Case& c : {Case{1, {0b10100000}, {255, 0, 255, 0}},
                        Case{2, {0b00011011}, {0, 85, 170, 255}},
                        Case{4, {0x0F, 0x7A}, {0, 255, 119, 170}}}) {
    test::PngSpec s;
    s.width = 4;
    s.height = 1;
    s.bit_depth = c.depth;
    s.color_type = PNG_COLOR_TYPE_GRAY;
    s.rows = c.row;
    const Image img = decode_image(test::bytes_of(test::encode_png_raw(s)), "lowbit.png");
    ASSERT_EQ(img.width, 4);
    for (size_t x = 0; x < 4; ++x)
      EXPECT_EQ(img.rgb[3 * x], c.expected[x]) << "depth " << c.depth << " x " << x;
  }
}

TEST(ReadImage, GreyAlphaDropsAlpha) {
  test::PngSpec s;
  s.width = 2;
  s.height = 1;
  s.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
  s.rows = {90, 0, 250, 17};
  const Image img = decode_image(test::bytes_of(test::encode_png_raw(s)), "ga.png");
  EXPECT_EQ(img.rgb, (std::vector<uint8_t>{90, 90, 90, 250, 250, 250}));
}

TEST(ReadImage, PaletteIsLookedUpAndTransparencyIgnored) {
  test::PngSpec s;
  s.width = 3;
  s.height = 1;
  s.color_type = PNG_COLOR_TYPE_PALETTE;
  s.palette_rgb = {1, 2, 3, 40, 50, 60, 200, 210, 220};
  s.trns_alpha = {0, 128};  // entry 0 fully transparent: colour still (1, 2, 3)
  s.rows = {2, 0, 1};
  const Image img = decode_image(test::bytes_of(test::encode_png_raw(s)), "pal.png");
  EXPECT_EQ(img.rgb, (std::vector<uint8_t>{200, 210, 220, 1, 2, 3, 40, 50, 60}));
}

TEST(ReadImage, LowBitPalette) {
  test::PngSpec s;
  s.width = 4;
  s.height = 1;
  s.bit_depth = 2;
  s.color_type = PNG_COLOR_TYPE_PALETTE;
  s.palette_rgb = {0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255};
  s.rows = {0b11100100};  // indices 3, 2, 1, 0
  const Image img = decode_image(test::bytes_of(test::encode_png_raw(s)), "pal2.png");
  EXPECT_EQ(img.rgb, (std::vector<uint8_t>{0, 0, 255, 0, 255, 0, 255, 0, 0, 0, 0, 0}));
}

TEST(ReadImage, Rgb16KeepsTheHighByte) {
  // PIL unpacks "RGB;16B" / "RGBA;16B" taking the most significant byte.
  test::PngSpec s;
  s.width = 2;
  s.height = 1;
  s.bit_depth = 16;
  s.color_type = PNG_COLOR_TYPE_RGB;
  s.rows = {0x12, 0xFF, 0x00, 0x80, 0xFF, 0x01, /**/ 0x80, 0x7F, 0x01, 0x00, 0x00, 0xFF};
  const Image img = decode_image(test::bytes_of(test::encode_png_raw(s)), "rgb16.png");
  EXPECT_EQ(img.rgb, (std::vector<uint8_t>{0x12, 0x00, 0xFF, 0x80, 0x01, 0x00}));

  s.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  s.rows = {0xAB, 0xCD, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00};
  s.width = 1;
  const Image rgba = decode_image(test::bytes_of(test::encode_png_raw(s)), "rgba16.png");
  EXPECT_EQ(rgba.rgb, (std::vector<uint8_t>{0xAB, 0x01, 0x03}));
}

TEST(ReadImage, GreyAlpha16KeepsTheHighByte) {
  // PIL opens it as "RGBA" through "LA;16B": high byte of the grey value.
  test::PngSpec s;
  s.width = 1;
  s.height = 1;
  s.bit_depth = 16;
  s.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
  s.rows = {0x9C, 0xFF, 0x00, 0x10};
  const Image img = decode_image(test::bytes_of(test::encode_png_raw(s)), "ga16.png");
  EXPECT_EQ(img.rgb, (std::vector<uint8_t>{0x9C, 0x9C, 0x9C}));
}

TEST(ReadImage, Grey16IsClippedNotScaled) {
  // PIL: mode "I;16", convert("RGB") -> min(value, 255).
  test::PngSpec s;
  s.width = 5;
  s.height = 1;
  s.bit_depth = 16;
  s.color_type = PNG_COLOR_TYPE_GRAY;
  // 0, 200, 255, 256, 65535 big-endian
  s.rows = {0x00, 0x00, 0x00, 200, 0x00, 0xFF, 0x01, 0x00, 0xFF, 0xFF};
  const Image img = decode_image(test::bytes_of(test::encode_png_raw(s)), "grey16.png");
  const std::vector<uint8_t> want = {0, 200, 255, 255, 255};
  ASSERT_EQ(img.width, 5);
  for (size_t x = 0; x < 5; ++x)
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(img.rgb[3 * x + c], want[x]) << x;
}

TEST(ReadImage, InterlacedMatchesPlain) {
  test::PngSpec s;
  s.width = 19;
  s.height = 11;
  s.color_type = PNG_COLOR_TYPE_RGB;
  for (int i = 0; i < s.width * s.height * 3; ++i) s.rows.push_back(uint8_t(i * 37 + 11));
  const Image plain = decode_image(test::bytes_of(test::encode_png_raw(s)), "plain.png");
  s.interlaced = true;
  const std::string adam7 = test::encode_png_raw(s);
  ASSERT_EQ(adam7[28], 1) << "IHDR interlace byte";
  const Image inter = decode_image(test::bytes_of(adam7), "adam7.png");
  EXPECT_EQ(plain.rgb, s.rows);
  EXPECT_EQ(inter.rgb, s.rows);
}

TEST(ReadImage, FormatComesFromBytesNotExtension) {
  test::TempDir dir("img");
  const auto png = test::read_file(test::fixture("images/synthetic_rgba.png"));
  const auto path = dir / "really_a_png.jpg";
  test::write_file(path, png);
  const Image img = read_image(path);
  EXPECT_EQ(img.width, 37);
  EXPECT_EQ(img.height, 23);
  EXPECT_EQ(sniff_image_format(test::bytes_of(png)), ImageFormat::PNG);
}

}  // namespace
}  // namespace emu35
