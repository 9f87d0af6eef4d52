// Encoding and writing: PNG lossless, JPEG / WebP close, formats and files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "codec_test_util.h"
#include "common/error.h"
#include "image/image_format.h"
#include "image/image_read.h"
#include "image/image_write.h"
#include "test_support.h"

namespace emu35 {
namespace {

double mean_abs_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.rgb.size(), b.rgb.size());
  double s = 0;
  for (size_t i = 0; i < a.rgb.size() && i < b.rgb.size(); ++i)
    s += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
  return s / double(a.rgb.size());
}

Image photo() { return read_image(test::fixture("images/ref_0.png")); }

TEST(WriteImage, PngRoundTripIsExact) {
  const Image src = photo();
  const std::string png = encode_png(src);
  EXPECT_EQ(sniff_image_format(test::bytes_of(png)), ImageFormat::PNG);
  const Image back = decode_image(test::bytes_of(png), "mem.png");
  EXPECT_EQ(back.width, src.width);
  EXPECT_EQ(back.height, src.height);
  EXPECT_EQ(back.rgb, src.rgb);
  // And an independent libpng read sees 8-bit RGB with the same samples.
  const test::RawPng raw = test::decode_png_raw(png);
  EXPECT_EQ(raw.bit_depth, 8);
  EXPECT_EQ(raw.channels, 3);
  EXPECT_EQ(raw.data, src.rgb);
}

TEST(WriteImage, JpegRoundTripIsClose) {
  const Image src = photo();
  const std::string q95 = encode_jpeg(src);
  EXPECT_EQ(sniff_image_format(test::bytes_of(q95)), ImageFormat::JPEG);
  const Image back95 = decode_image(test::bytes_of(q95), "mem.jpg");
  ASSERT_EQ(back95.width, src.width);
  ASSERT_EQ(back95.height, src.height);
  const double d95 = mean_abs_diff(src, back95);
  EXPECT_LT(d95, 3.0);
  EXPECT_GT(d95, 0.0);  // it is lossy: identical bytes would mean nothing was encoded
  // Quality is honoured: 30 is smaller and worse than 95.
  const std::string q30 = encode_jpeg(src, 30);
  EXPECT_LT(q30.size(), q95.size());
  EXPECT_GT(mean_abs_diff(src, decode_image(test::bytes_of(q30), "q30.jpg")), d95);
  // Our decoder agrees with a plain libjpeg decode of the same bytes.
  int w = 0, h = 0, c = 0;
  EXPECT_EQ(test::decode_jpeg_raw(q95, &w, &h, &c), back95.rgb);
  EXPECT_EQ(c, 3);
}

TEST(WriteImage, WebpRoundTripIsClose) {
#ifdef EMU35_HAVE_WEBP
  const Image src = photo();
  const std::string webp = encode_webp(src);
  EXPECT_EQ(sniff_image_format(test::bytes_of(webp)), ImageFormat::WEBP);
  const Image back = decode_image(test::bytes_of(webp), "mem.webp");
  ASSERT_EQ(back.width, src.width);
  ASSERT_EQ(back.height, src.height);
  EXPECT_LT(mean_abs_diff(src, back), 4.0);
  EXPECT_LT(encode_webp(src, 20).size(), webp.size());
#else
  EXPECT_THROW(encode_webp(photo()), Error);
#endif
}

TEST(WriteImage, WriteImageWritesEachFormat) {
  test::TempDir dir("imgw");
  const Image src = read_image(test::fixture("images/synthetic_rgba.png"));
  for (ImageFormat fmt : {ImageFormat::PNG, ImageFormat::JPEG, ImageFormat::WEBP}) {
#ifndef EMU35_HAVE_WEBP
    if (fmt == ImageFormat::WEBP) continue;
#endif
    const auto path = dir / (std::string("out") + std::string(image_format_extension(fmt)));
    write_image(path, src, fmt, 90);
    ASSERT_TRUE(std::filesystem::exists(path));
    const std::string bytes = test::read_file(path);
    EXPECT_EQ(sniff_image_format(test::bytes_of(bytes)), fmt);
    const Image back = read_image(path);
    EXPECT_EQ(back.width, 37);
    EXPECT_EQ(back.height, 23);
    if (fmt == ImageFormat::PNG) {
      EXPECT_EQ(back.rgb, src.rgb);
    }
  }
  // Nothing but the three outputs is left behind (no temp files).
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++n;
#ifdef EMU35_HAVE_WEBP
  EXPECT_EQ(n, 3);
#else
  EXPECT_EQ(n, 2);
#endif
}

TEST(WriteImage, BadArgumentsAreErrors) {
  const Image src = read_image(test::fixture("images/synthetic_rgba.png"));
  EXPECT_THROW(encode_jpeg(src, 0), Error);
  EXPECT_THROW(encode_jpeg(src, 101), Error);
  EXPECT_THROW(encode_png(Image{}), Error);
  Image broken = Image::blank(4, 4);
  broken.rgb.pop_back();
  EXPECT_THROW(encode_png(broken), Error);
  EXPECT_THROW(encode_jpeg(broken), Error);
  test::TempDir dir("imgw");
  try {
    write_image(dir / "x.png", Image{}, ImageFormat::PNG);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.png"), std::string::npos) << e.what();
  }
}

TEST(ImageFormatNames, ParseAndExtensions) {
  EXPECT_EQ(parse_image_format("png"), ImageFormat::PNG);
  EXPECT_EQ(parse_image_format("PNG"), ImageFormat::PNG);
  EXPECT_EQ(parse_image_format("jpeg"), ImageFormat::JPEG);
  EXPECT_EQ(parse_image_format("jpg"), ImageFormat::JPEG);
  EXPECT_EQ(parse_image_format(".webp"), ImageFormat::WEBP);
  try {
    parse_image_format("gif");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gif"), std::string::npos);
  }
  EXPECT_THROW(parse_image_format(""), Error);
  EXPECT_EQ(image_format_extension(ImageFormat::JPEG), ".jpg");
  EXPECT_EQ(image_format_name(ImageFormat::WEBP), "webp");
  EXPECT_EQ(image_format_from_path("a/b/c.JPEG"), ImageFormat::JPEG);
  EXPECT_EQ(image_format_from_path("c.png"), ImageFormat::PNG);
  EXPECT_THROW(image_format_from_path("noext"), Error);
  EXPECT_THROW(image_format_from_path("pic.bmp"), Error);
}

}  // namespace
}  // namespace emu35
