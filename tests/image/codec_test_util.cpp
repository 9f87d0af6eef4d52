#include "codec_test_util.h"

#include <cstdio>
#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace emu35::test {
namespace {

struct Io {
  const uint8_t* data = nullptr;
  size_t size = 0, pos = 0;
  std::string* out = nullptr;
};

[[noreturn]] void png_err(png_structp png, png_const_charp) { png_longjmp(png, 1); }
void png_warn(png_structp, png_const_charp) {}
void png_rd(png_structp png, png_bytep dst, size_t n) {
  auto* io = static_cast<Io*>(png_get_io_ptr(png));
  if (n > io->size - io->pos) png_error(png, "eof");
  std::memcpy(dst, io->data + io->pos, n);
  io->pos += n;
}
void png_wr(png_structp png, png_bytep src, size_t n) {
  static_cast<Io*>(png_get_io_ptr(png))->out->append(reinterpret_cast<char*>(src), n);
}
void png_fl(png_structp) {}

bool raw_header(png_structp png, png_infop info, RawPng* r) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  png_get_IHDR(png, info, &w, &h, &r->bit_depth, &r->color_type, nullptr, nullptr, nullptr);
  r->width = int(w);
  r->height = int(h);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  r->channels = png_get_channels(png, info);
  r->rowbytes = png_get_rowbytes(png, info);
  return true;
}

bool raw_pixels(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  return true;
}

bool raw_write(png_structp png, png_infop info, const PngSpec* s, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, png_uint_32(s->width), png_uint_32(s->height), s->bit_depth,
               s->color_type, s->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!s->palette_rgb.empty()) {
    png_color pal[256];
    const int n = int(s->palette_rgb.size() / 3);
    for (int i = 0; i < n; ++i)
      pal[i] = {s->palette_rgb[size_t(3 * i)], s->palette_rgb[size_t(3 * i + 1)],
                s->palette_rgb[size_t(3 * i + 2)]};
    png_set_PLTE(png, info, pal, n);
  }
  if (!s->trns_alpha.empty())
    png_set_tRNS(png, info, s->trns_alpha.data(), int(s->trns_alpha.size()), nullptr);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

RawPng decode_png_raw(const std::string& bytes) {
  Io io;
  io.data = reinterpret_cast<const uint8_t*>(bytes.data());
  io.size = bytes.size();
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, png_err, png_warn);
  png_infop info = png_create_info_struct(png);
  png_set_read_fn(png, &io, png_rd);
  RawPng r;
  bool ok = raw_header(png, info, &r);
  std::vector<png_bytep> rows;
  if (ok) {
    r.data.resize(r.rowbytes * size_t(r.height));
    for (int y = 0; y < r.height; ++y) rows.push_back(r.data.data() + size_t(y) * r.rowbytes);
    ok = raw_pixels(png, rows.data());
  }
  png_destroy_read_struct(&png, &info, nullptr);
  if (!ok) throw std::runtime_error("test decode_png_raw failed");
  return r;
}

std::string encode_png_raw(const PngSpec& s) {
  std::string out;
  Io io;
  io.out = &out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, png_err, png_warn);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &io, png_wr, png_fl);
  const size_t rowbytes = s.rows.size() / size_t(s.height);
  std::vector<png_bytep> rows;
  for (int y = 0; y < s.height; ++y)
    rows.push_back(const_cast<uint8_t*>(s.rows.data()) + size_t(y) * rowbytes);
  const bool ok = raw_write(png, info, &s, rows.data());
  png_destroy_write_struct(&png, &info);
  if (!ok) throw std::runtime_error("test encode_png_raw failed");
  return out;
}

namespace {

struct JErr {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};
[[noreturn]] void j_err(j_common_ptr c) { std::longjmp(reinterpret_cast<JErr*>(c->err)->jump, 1); }
void j_msg(j_common_ptr) {}

bool j_encode(j_compress_ptr c, JErr* e, int w, int h, int comps, const uint8_t* samples,
              int quality, unsigned char** buf, unsigned long* size) {
  if (setjmp(e->jump)) return false;
  jpeg_create_compress(c);
  jpeg_mem_dest(c, buf, size);
  c->image_width = JDIMENSION(w);
  c->image_height = JDIMENSION(h);
  c->input_components = comps;
  c->in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(c);
  jpeg_set_quality(c, quality, TRUE);
  jpeg_start_compress(c, TRUE);
  while (c->next_scanline < c->image_height) {
    JSAMPROW row = const_cast<uint8_t*>(samples) + size_t(c->next_scanline) * size_t(w * comps);
    jpeg_write_scanlines(c, &row, 1);
  }
  jpeg_finish_compress(c);
  return true;
}

bool j_decode(j_decompress_ptr c, JErr* e, const std::string* bytes, std::vector<uint8_t>* out) {
  if (setjmp(e->jump)) return false;
  jpeg_create_decompress(c);
  jpeg_mem_src(c, reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size());
  jpeg_read_header(c, TRUE);
  jpeg_start_decompress(c);
  out->resize(size_t(c->output_width) * c->output_height * size_t(c->output_components));
  while (c->output_scanline < c->output_height) {
    JSAMPROW row = out->data() + size_t(c->output_scanline) * c->output_width *
                                     size_t(c->output_components);
    jpeg_read_scanlines(c, &row, 1);
  }
  jpeg_finish_decompress(c);
  return true;
}

}  // namespace

std::string encode_jpeg_raw(int w, int h, int comps, const std::vector<uint8_t>& samples,
                            int quality) {
  JErr e;
  jpeg_std_error(&e.pub);
  e.pub.error_exit = j_err;
  e.pub.output_message = j_msg;
  jpeg_compress_struct c{};
  c.err = &e.pub;
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const bool ok = j_encode(&c, &e, w, h, comps, samples.data(), quality, &buf, &size);
  jpeg_destroy_compress(&c);
  std::string out = ok ? std::string(reinterpret_cast<char*>(buf), size) : std::string();
  std::free(buf);
  if (!ok) throw std::runtime_error("test encode_jpeg_raw failed");
  return out;
}

std::vector<uint8_t> decode_jpeg_raw(const std::string& bytes, int* w, int* h, int* comps) {
  JErr e;
  jpeg_std_error(&e.pub);
  e.pub.error_exit = j_err;
  e.pub.output_message = j_msg;
  jpeg_decompress_struct c{};
  c.err = &e.pub;
  std::vector<uint8_t> out;
  const bool ok = j_decode(&c, &e, &bytes, &out);
  *w = int(c.output_width);
  *h = int(c.output_height);
  *comps = c.output_components;
  jpeg_destroy_decompress(&c);
  if (!ok) throw std::runtime_error("test decode_jpeg_raw failed");
  return out;
}

}  // namespace emu35::test
