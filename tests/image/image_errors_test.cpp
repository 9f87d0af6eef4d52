// Bad input: clear emu35::Error naming the source, never a crash.
#include <gtest/gtest.h>
#include <png.h>

#include <string>
#include <vector>

#include "codec_test_util.h"
#include "common/error.h"
#include "image/image_read.h"
#include "image/image_write.h"
#include "test_support.h"

namespace emu35 {
namespace {

// Runs fn, expects an Error whose message contains every needle.
template <class Fn>
void expect_error(Fn fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected an emu35::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << msg;
  }
}

// PNG's chunk CRC (CRC-32, reflected, polynomial 0xEDB88320), bit by bit.
uint32_t crc_of(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

void put_be32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(char((v >> (8 * i)) & 0xFF));
}

// A PNG header claiming w x h RGB followed by one empty IDAT and IEND.
std::string lying_png(uint32_t w, uint32_t h) {
  std::string out("\x89PNG\r\n\x1a\n", 8);
  auto chunk = [&](const char* type, const std::string& data) {
    put_be32(out, uint32_t(data.size()));
    const std::string td = std::string(type, 4) + data;
    out += td;
    put_be32(out, crc_of(td));
  };
  std::string ihdr;
  put_be32(ihdr, w);
  put_be32(ihdr, h);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);
  chunk("IHDR", ihdr);
  chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8));
  chunk("IEND", "");
  return out;
}

TEST(ImageErrors, PixelLimitRefusedFromTheHeader) {
  // 100000 x 100000 = 10^10 pixels, body of a few bytes: refused for its size
  // (decoding would have needed 30 GB).
  const std::string png = lying_png(100000, 100000);
  ASSERT_LT(png.size(), 100u);
  expect_error([&] { decode_image(test::bytes_of(png), "huge.png"); },
               {"huge.png", "100000x100000", "limit"});
  // Cut right after IHDR: still the size complaint, not "truncated".
  expect_error([&] { decode_image(test::bytes_of(png).first(33), "huge_cut.png"); },
               {"huge_cut.png", "limit"});
}

TEST(ImageErrors, PixelLimitIsConfigurable) {
  const std::string png = test::read_file(test::fixture("images/synthetic_rgba.png"));  // 37x23
  ImageReadOptions tight;
  tight.max_pixels = 37 * 23 - 1;
  expect_error([&] { decode_image(test::bytes_of(png), "small.png", tight); },
               {"small.png", "851", "limit"});
  tight.max_pixels = 37 * 23;
  EXPECT_NO_THROW(decode_image(test::bytes_of(png), "small.png", tight));
  EXPECT_EQ(ImageReadOptions{}.max_pixels, uint64_t(64) << 20);

  const std::string jpg = encode_jpeg(decode_image(test::bytes_of(png), "small.png"));
  ImageReadOptions jt;
  jt.max_pixels = 100;
  expect_error([&] { decode_image(test::bytes_of(jpg), "small.jpg", jt); }, {"small.jpg", "limit"});
#ifdef EMU35_HAVE_WEBP
  const std::string webp = encode_webp(decode_image(test::bytes_of(png), "small.png"));
  expect_error([&] { decode_image(test::bytes_of(webp), "small.webp", jt); },
               {"small.webp", "limit"});
#endif
}

TEST(ImageErrors, TruncatedPngNamesTheFile) {
  const std::string png = test::read_file(test::fixture("images/ref_0.png"));
  for (size_t keep : {size_t(8), size_t(30), size_t(100), png.size() / 2, png.size() - 20}) {
    SCOPED_TRACE(keep);
    expect_error([&] { decode_image(test::bytes_of(png).first(keep), "cut.png"); },
                 {"cut.png", "PNG"});
  }
  test::TempDir dir("imge");
  const auto path = dir / "truncated.png";
  test::write_file(path, png.substr(0, png.size() / 3));
  expect_error([&] { read_image(path); }, {"truncated.png"});
}

TEST(ImageErrors, CorruptPngDataIsAnError) {
  std::string png = test::read_file(test::fixture("images/ref_0.png"));
  // Flip bytes inside the first IDAT's compressed data: CRC / zlib failure.
  const size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  for (size_t i = idat + 10; i < idat + 40; ++i) png[i] = char(png[i] ^ 0x5A);
  expect_error([&] { decode_image(test::bytes_of(png), "corrupt.png"); }, {"corrupt.png"});
}

TEST(ImageErrors, TruncatedJpegNamesTheFile) {
  const std::string jpg =
      encode_jpeg(read_image(test::fixture("images/ref_1.png")), 90);
  for (size_t keep : {size_t(3), size_t(50), size_t(400), jpg.size() / 2, jpg.size() - 10}) {
    SCOPED_TRACE(keep);
    expect_error([&] { decode_image(test::bytes_of(jpg).first(keep), "cut.jpg"); },
                 {"cut.jpg", "JPEG"});
  }
}

TEST(ImageErrors, TruncatedWebpNamesTheFile) {
#ifdef EMU35_HAVE_WEBP
  const std::string webp = encode_webp(read_image(test::fixture("images/ref_1.png")), 90);
  for (size_t keep : {size_t(12), size_t(40), webp.size() / 2}) {
    SCOPED_TRACE(keep);
    expect_error([&] { decode_image(test::bytes_of(webp).first(keep), "cut.webp"); },
                 {"cut.webp", "WebP"});
  }
#else
  GTEST_SKIP() << "built without WebP";
#endif
}

TEST(ImageErrors, GarbageAndUnknownFormats) {
  const std::string garbage = "this is not a picture at all, just some text";
  expect_error([&] { decode_image(test::bytes_of(garbage), "notes.txt"); },
               {"notes.txt", "unrecognised image format"});
  expect_error([&] { decode_image(test::bytes_of(std::string("GIF89a....")), "anim.gif"); },
               {"anim.gif", "GIF"});
  expect_error([&] { decode_image({}, "empty.png"); }, {"empty.png", "empty"});
  // Right magic, garbage after it.
  std::string fake_png("\x89PNG\r\n\x1a\n", 8);
  fake_png += garbage;
  expect_error([&] { decode_image(test::bytes_of(fake_png), "fake.png"); }, {"fake.png", "PNG"});
  std::string fake_jpg("\xFF\xD8\xFF", 3);
  fake_jpg += garbage;
  expect_error([&] { decode_image(test::bytes_of(fake_jpg), "fake.jpg"); }, {"fake.jpg", "JPEG"});
  std::string fake_webp = "RIFF\x10\x00\x00\x00WEBPVP8 garbage garbage";
  expect_error([&] { decode_image(test::bytes_of(fake_webp), "fake.webp"); }, {"fake.webp"});
}

TEST(ImageErrors, MissingFileNamesIt) {
  expect_error([&] { read_image("/nonexistent/dir/nothing_here.png"); }, {"nothing_here.png"});
}

}  // namespace
}  // namespace emu35
