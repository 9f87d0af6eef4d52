// PNG through libpng. libpng reports errors by calling a handler that must not
// return; ours records the message and longjmps back into a small "stage"
// function. Those stage functions (and the callbacks) hold only trivially
// destructible locals, so the jump skips no C++ destructor; every owning
// object lives in the callers, which never call setjmp.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/codecs.h"
#include "image/image_write.h"

namespace emu35 {
namespace {

// State the libpng callbacks reach through the io / error pointers. Plain data.
struct PngIo {
  const uint8_t* data = nullptr;  // reading: the whole file
  size_t size = 0, pos = 0;
  std::string* out = nullptr;     // writing: where the bytes go
  char message[256] = {};
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp msg) {
  auto* io = static_cast<PngIo*>(png_get_error_ptr(png));
  std::snprintf(io->message, sizeof io->message, "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}

// PIL does not report ancillary-chunk complaints either (bad iCCP, sRGB, ...).
void on_png_warning(png_structp, png_const_charp) {}

void on_png_read(png_structp png, png_bytep dst, size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  if (n > io->size - io->pos) png_error(png, "unexpected end of file (truncated PNG)");
  std::memcpy(dst, io->data + io->pos, n);
  io->pos += n;
}

void on_png_write(png_structp png, png_bytep src, size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  bool ok = true;
  try {
    io->out->append(reinterpret_cast<const char*>(src), n);
  } catch (...) {
    ok = false;
  }
  if (!ok) png_error(png, "out of memory while encoding");  // outside the catch: no live exception
}

void on_png_flush(png_structp) {}  // libpng's default would fflush() the io pointer as a FILE*

struct PngReadHandles {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadHandles() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
};

struct PngWriteHandles {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngWriteHandles() {
    if (png) png_destroy_write_struct(&png, info ? &info : nullptr);
  }
};

struct PngLayout {
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  bool grey16 = false;  // 16-bit greyscale without alpha: kept at 16 bits, clipped later
  int channels = 0;     // per pixel after the transforms below
  size_t rowbytes = 0;
};

// Reads the header chunks and sets up the transforms. False on a libpng error.
bool png_stage_header(png_structp png, png_infop info, PngLayout* lay) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  int interlace = 0;
  png_get_IHDR(png, info, &lay->width, &lay->height, &lay->bit_depth, &lay->color_type, &interlace,
               nullptr, nullptr);
  // PIL opens 16-bit greyscale as mode "I;16" ("I" in older Pillow) and its
  // convert("RGB") clips each value to 255 (Convert.c I16_RGB / i2rgb); it
  // does not scale. Every other 16-bit layout (RGB, RGBA, grey+alpha) is
  // unpacked by PIL keeping the most significant byte (rawmodes RGB;16B,
  // RGBA;16B, LA;16B), which is exactly png_set_strip_16.
  lay->grey16 = lay->bit_depth == 16 && lay->color_type == PNG_COLOR_TYPE_GRAY;
  if (!lay->grey16) {
    // Palette -> RGB, 1/2/4-bit grey -> 8 bits with PIL's scaling (x*255/(2^n-1)),
    // tRNS -> an alpha channel that is then dropped, as convert("RGB") drops it.
    png_set_expand(png);
    if (lay->bit_depth == 16) png_set_strip_16(png);
  }
  png_set_interlace_handling(png);  // Adam7 rows come out whole
  png_read_update_info(png, info);
  lay->channels = png_get_channels(png, info);
  lay->rowbytes = png_get_rowbytes(png, info);
  return true;
}

bool png_stage_pixels(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  // No png_read_end(): like PIL, a missing or damaged tail after the image
  // data (IEND, trailing text chunks) does not fail the read.
  return true;
}

bool png_stage_write(png_structp png, png_infop info, const Image& img, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, png_uint_32(img.width), png_uint_32(img.height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

}  // namespace

namespace codec {

Image decode_png(std::span<const uint8_t> bytes, const std::string& name, uint64_t max_pixels) {
  // IHDR must be the first chunk (signature, length, "IHDR", width, height):
  // check the size from it directly, so even a file whose header lies about
  // a huge picture and then ends is refused for its size before libpng runs.
  if (bytes.size() >= 24 && std::memcmp(bytes.data() + 12, "IHDR", 4) == 0)
    check_pixel_limit(be32(bytes.data() + 16), be32(bytes.data() + 20), max_pixels, name);

  PngIo io;
  io.data = bytes.data();
  io.size = bytes.size();
  PngReadHandles h;
  h.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, on_png_error, on_png_warning);
  if (h.png) h.info = png_create_info_struct(h.png);
  if (!h.png || !h.info) throw Error("image '" + name + "': cannot initialise libpng");
  png_set_read_fn(h.png, &io, on_png_read);

  auto fail = [&]() -> Error {
    return Error("image '" + name + "': corrupt or truncated PNG (" + io.message + ")");
  };
  PngLayout lay;
  if (!png_stage_header(h.png, h.info, &lay)) throw fail();
  check_pixel_limit(lay.width, lay.height, max_pixels, name);

  const size_t w = lay.width, hgt = lay.height;
  std::vector<uint8_t> raw(lay.rowbytes * hgt);
  std::vector<png_bytep> rows(hgt);
  for (size_t y = 0; y < hgt; ++y) rows[y] = raw.data() + y * lay.rowbytes;
  if (!png_stage_pixels(h.png, rows.data())) throw fail();

  Image img = Image::blank(int(w), int(hgt));
  uint8_t* dst = img.rgb.data();
  const uint8_t* src = raw.data();
  for (size_t y = 0; y < hgt; ++y) {
    const uint8_t* s = src + y * lay.rowbytes;
    uint8_t* d = dst + y * w * 3;
    if (lay.grey16) {
      for (size_t x = 0; x < w; ++x, d += 3) {
        const uint8_t v = s[2 * x] != 0 ? 255 : s[2 * x + 1];  // big-endian: clip to 255
        d[0] = d[1] = d[2] = v;
      }
      continue;
    }
    switch (lay.channels) {
      case 1:  // grey
      case 2:  // grey + alpha
        for (size_t x = 0; x < w; ++x, d += 3) d[0] = d[1] = d[2] = s[x * lay.channels];
        break;
      case 3:
        std::memcpy(d, s, w * 3);
        break;
      case 4:  // RGBA: alpha dropped, not blended
        for (size_t x = 0; x < w; ++x, d += 3, s += 4) {
          d[0] = s[0];
          d[1] = s[1];
          d[2] = s[2];
        }
        break;
      default:
        throw Error("image '" + name + "': unsupported PNG layout (" +
                    std::to_string(lay.channels) + " channels)");
    }
  }
  return img;
}

}  // namespace codec

std::string encode_png(const Image& img) {
  check_image(img, "encode_png");
  std::string out;
  PngIo io;
  io.out = &out;
  PngWriteHandles h;
  h.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, on_png_error, on_png_warning);
  if (h.png) h.info = png_create_info_struct(h.png);
  if (!h.png || !h.info) throw Error("encode_png: cannot initialise libpng");
  png_set_write_fn(h.png, &io, on_png_write, on_png_flush);
  std::vector<png_bytep> rows(size_t(img.height));
  for (int y = 0; y < img.height; ++y) rows[size_t(y)] = const_cast<uint8_t*>(img.row(y));
  if (!png_stage_write(h.png, h.info, img, rows.data()))
    throw Error(std::string("encode_png: libpng failed (") + io.message + ")");
  return out;
}

}  // namespace emu35
