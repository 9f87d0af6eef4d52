// JPEG colour handling as PIL does it: grey replicated, CMYK inverted and
// converted with PIL's cmyk2rgb arithmetic.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec_test_util.h"
#include "image/image_read.h"

namespace emu35 {
namespace {

TEST(ReadJpeg, GreyIsReplicated) {
  const int w = 24, h = 16;
  std::vector<uint8_t> grey(size_t(w * h));
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint8_t((i * 13) % 251);
  const std::string jpg = test::encode_jpeg_raw(w, h, 1, grey, 90);
  int dw = 0, dh = 0, dc = 0;
  const auto ref = test::decode_jpeg_raw(jpg, &dw, &dh, &dc);
  ASSERT_EQ(dc, 1);
  const Image img = decode_image(test::bytes_of(jpg), "grey.jpg");
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  for (size_t i = 0; i < ref.size(); ++i)
    for (size_t c = 0; c < 3; ++c) ASSERT_EQ(img.rgb[3 * i + c], ref[i]) << i;
}

// PIL: stored values inverted ("CMYK;I"), then per channel
// nk = 255 - k, out = nk - MULDIV255(c, nk) (rounded integer product).
uint8_t pil_cmyk_to_channel(uint8_t stored_c, uint8_t stored_k) {
  const int c = 255 - stored_c, k = 255 - stored_k;
  const int nk = 255 - k;
  const int t = c * nk + 128;
  const int v = nk - (((t >> 8) + t) >> 8);
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

TEST(ReadJpeg, CmykIsInvertedThenConvertedLikePil) {
  const int w = 16, h = 8;
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < w * h; ++i) {
    cmyk.push_back(uint8_t(i * 7));
    cmyk.push_back(uint8_t(255 - i));
    cmyk.push_back(uint8_t(i * 3 + 40));
    cmyk.push_back(uint8_t((i * 11) % 256));
  }
  const std::string jpg = test::encode_jpeg_raw(w, h, 4, cmyk, 100);
  int dw = 0, dh = 0, dc = 0;
  const auto stored = test::decode_jpeg_raw(jpg, &dw, &dh, &dc);
  ASSERT_EQ(dc, 4);
  const Image img = decode_image(test::bytes_of(jpg), "cmyk.jpg");
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  for (int i = 0; i < w * h; ++i) {
    const uint8_t* s = &stored[size_t(4 * i)];
    for (int c = 0; c < 3; ++c)
      ASSERT_EQ(img.rgb[size_t(3 * i + c)], pil_cmyk_to_channel(s[c], s[3])) << i << "/" << c;
  }
}

TEST(ReadJpeg, CmykFormulaSpotValues) {
  // Stored (Adobe-inverted) all-255 = no ink -> white; stored K = 0 -> black.
  EXPECT_EQ(pil_cmyk_to_channel(255, 255), 255);
  EXPECT_EQ(pil_cmyk_to_channel(255, 0), 0);
  EXPECT_EQ(pil_cmyk_to_channel(0, 255), 0);
  EXPECT_EQ(pil_cmyk_to_channel(128, 255), 128);
}

}  // namespace
}  // namespace emu35
