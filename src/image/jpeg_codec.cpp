// JPEG through libjpeg(-turbo). libjpeg's fatal-error hook must not return:
// ours formats the message and longjmps back into a small "stage" function
// holding only trivially destructible locals, so no C++ destructor is skipped;
// the owning objects live in the callers, which never call setjmp.
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <jerror.h>
#include <jpeglib.h>

#include <csetjmp>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/codecs.h"
#include "image/image_write.h"

namespace emu35 {
namespace {

struct JpegErr {
  jpeg_error_mgr pub;  // first member: libjpeg passes &pub around as cinfo->err
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_jpeg_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// Warnings (e.g. "Corrupt JPEG data: N extraneous bytes") are not errors for
// PIL either; keep them off stderr.
void on_jpeg_output_message(j_common_ptr) {}

void init_error(JpegErr& err) {
  jpeg_std_error(&err.pub);
  err.pub.error_exit = on_jpeg_error;
  err.pub.output_message = on_jpeg_output_message;
  err.message[0] = '\0';
}

// ---- source: the whole file in memory. Running out of bytes is an error
// (PIL raises "image file is truncated"); libjpeg's own memory source would
// instead invent an end-of-image marker and decode grey.
void src_noop(j_decompress_ptr) {}
boolean src_fill(j_decompress_ptr cinfo) {
  ERREXIT(cinfo, JERR_INPUT_EOF);
  return FALSE;
}
void src_skip(j_decompress_ptr cinfo, long n) {
  if (n <= 0) return;
  jpeg_source_mgr* src = cinfo->src;
  if (size_t(n) > src->bytes_in_buffer) ERREXIT(cinfo, JERR_INPUT_EOF);
  src->next_input_byte += n;
  src->bytes_in_buffer -= size_t(n);
}

// ---- destination: appends to a std::string through a fixed staging buffer.
struct JpegDest {
  jpeg_destination_mgr pub;  // first member: libjpeg sees only &pub
  std::string* out;
  JOCTET buf[1 << 16];
};

void dest_init(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<JpegDest*>(cinfo->dest);
  d->pub.next_output_byte = d->buf;
  d->pub.free_in_buffer = sizeof d->buf;
}

// Appends n staged bytes; on allocation failure raises a libjpeg error
// outside the catch block, so no exception is live when it longjmps.
void dest_flush(j_compress_ptr cinfo, size_t n) {
  auto* d = reinterpret_cast<JpegDest*>(cinfo->dest);
  bool ok = true;
  try {
    d->out->append(reinterpret_cast<const char*>(d->buf), n);
  } catch (...) {
    ok = false;
  }
  if (!ok) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 99);
}

boolean dest_empty(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<JpegDest*>(cinfo->dest);
  dest_flush(cinfo, sizeof d->buf);
  d->pub.next_output_byte = d->buf;
  d->pub.free_in_buffer = sizeof d->buf;
  return TRUE;
}

void dest_term(j_compress_ptr cinfo) {
  auto* d = reinterpret_cast<JpegDest*>(cinfo->dest);
  dest_flush(cinfo, sizeof d->buf - d->pub.free_in_buffer);
}

// ---- stages (each returns false after a libjpeg error)

bool stage_read_header(j_decompress_ptr cinfo, JpegErr* err, jpeg_source_mgr* src) {
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(cinfo);
  cinfo->src = src;
  jpeg_read_header(cinfo, TRUE);
  return true;
}

bool stage_start(j_decompress_ptr cinfo, JpegErr* err) {
  if (setjmp(err->jump)) return false;
  jpeg_start_decompress(cinfo);
  return true;
}

bool stage_scanlines(j_decompress_ptr cinfo, JpegErr* err, uint8_t* dst, size_t stride) {
  if (setjmp(err->jump)) return false;
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = dst + size_t(cinfo->output_scanline) * stride;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  // No jpeg_finish_decompress(): every row is in, and like PIL we do not
  // insist on what follows the last scan.
  return true;
}

bool stage_encode(j_compress_ptr cinfo, JpegErr* err, JpegDest* dest, const Image* img,
                  int quality) {
  if (setjmp(err->jump)) return false;
  jpeg_create_compress(cinfo);
  cinfo->dest = &dest->pub;
  cinfo->image_width = JDIMENSION(img->width);
  cinfo->image_height = JDIMENSION(img->height);
  cinfo->input_components = 3;
  cinfo->in_color_space = JCS_RGB;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, quality, TRUE);
  jpeg_start_compress(cinfo, TRUE);
  while (cinfo->next_scanline < cinfo->image_height) {
    JSAMPROW row = const_cast<uint8_t*>(img->row(int(cinfo->next_scanline)));
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  return true;
}

struct Decompressor {
  jpeg_decompress_struct cinfo{};  // zeroed: destroy is safe even if create failed
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
};

struct Compressor {
  jpeg_compress_struct cinfo{};
  ~Compressor() { jpeg_destroy_compress(&cinfo); }
};

// PIL's cmyk2rgb (Convert.c): nk = 255 - k; channel = nk - round(c * nk / 255),
// with its MULDIV255 integer rounding.
inline uint8_t cmyk_channel(int c, int nk) {
  const int t = c * nk + 128;
  const int v = nk - (((t >> 8) + t) >> 8);
  return uint8_t(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace

namespace codec {

Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& name, uint64_t max_pixels) {
  JpegErr err;
  init_error(err);
  jpeg_source_mgr src{};
  src.next_input_byte = bytes.data();
  src.bytes_in_buffer = bytes.size();
  src.init_source = src_noop;
  src.fill_input_buffer = src_fill;
  src.skip_input_data = src_skip;
  src.resync_to_restart = jpeg_resync_to_restart;
  src.term_source = src_noop;

  Decompressor d;
  d.cinfo.err = &err.pub;
  auto fail = [&]() -> Error {
    return Error("image '" + name + "': corrupt or truncated JPEG (" + err.message + ")");
  };
  if (!stage_read_header(&d.cinfo, &err, &src)) {
    // The frame header may have been read before the data ran out: a size
    // over the limit is the more useful complaint.
    if (d.cinfo.image_width && d.cinfo.image_height)
      check_pixel_limit(d.cinfo.image_width, d.cinfo.image_height, max_pixels, name);
    throw fail();
  }
  check_pixel_limit(d.cinfo.image_width, d.cinfo.image_height, max_pixels, name);

  // PIL picks its mode from the component count (JpegImagePlugin SOF):
  // 1 -> "L", 3 -> "RGB", 4 -> "CMYK" read with rawmode "CMYK;I" (it assumes
  // Adobe's inverted CMYK for every 4-channel JPEG). libjpeg's defaults stay:
  // ISLOW DCT, fancy upsampling, no block smoothing changes, no scaling.
  const int comps = d.cinfo.num_components;
  if (comps == 1) {
    d.cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (comps == 3) {
    d.cinfo.out_color_space = JCS_RGB;
  } else if (comps == 4) {
    d.cinfo.out_color_space = JCS_CMYK;  // libjpeg turns YCCK into CMYK
  } else {
    throw Error("image '" + name + "': unsupported JPEG with " + std::to_string(comps) +
                " colour components");
  }
  if (!stage_start(&d.cinfo, &err)) throw fail();

  const size_t w = d.cinfo.output_width, h = d.cinfo.output_height;
  const size_t oc = size_t(d.cinfo.output_components);
  std::vector<uint8_t> raw(w * h * oc);
  if (!stage_scanlines(&d.cinfo, &err, raw.data(), w * oc)) throw fail();

  Image img = Image::blank(int(w), int(h));
  uint8_t* dst = img.rgb.data();
  const uint8_t* s = raw.data();
  const size_t n = w * h;
  if (oc == 3) {
    std::memcpy(dst, s, n * 3);
  } else if (oc == 1) {
    for (size_t i = 0; i < n; ++i, dst += 3) dst[0] = dst[1] = dst[2] = s[i];
  } else if (oc == 4) {
    for (size_t i = 0; i < n; ++i, dst += 3, s += 4) {
      // PIL first inverts all four stored values ("CMYK;I"), then cmyk2rgb.
      const int k = 255 - s[3];
      const int nk = 255 - k;
      dst[0] = cmyk_channel(255 - s[0], nk);
      dst[1] = cmyk_channel(255 - s[1], nk);
      dst[2] = cmyk_channel(255 - s[2], nk);
    }
  } else {
    throw Error("image '" + name + "': unexpected JPEG output with " + std::to_string(oc) +
                " components");
  }
  return img;
}

}  // namespace codec

std::string encode_jpeg(const Image& img, int quality) {
  check_image(img, "encode_jpeg");
  check(quality >= 1 && quality <= 100,
        "encode_jpeg: quality " + std::to_string(quality) + " is outside 1..100");
  check(img.width <= JPEG_MAX_DIMENSION && img.height <= JPEG_MAX_DIMENSION,
        "encode_jpeg: " + std::to_string(img.width) + "x" + std::to_string(img.height) +
            " exceeds JPEG's " + std::to_string(JPEG_MAX_DIMENSION) + "-pixel side limit");
  std::string out;
  JpegErr err;
  init_error(err);
  auto dest = std::make_unique<JpegDest>();  // 64 KiB staging buffer: off the stack
  dest->pub.init_destination = dest_init;
  dest->pub.empty_output_buffer = dest_empty;
  dest->pub.term_destination = dest_term;
  dest->out = &out;
  Compressor c;
  c.cinfo.err = &err.pub;
  if (!stage_encode(&c.cinfo, &err, dest.get(), &img, quality))
    throw Error(std::string("encode_jpeg: libjpeg failed (") + err.message + ")");
  return out;
}

}  // namespace emu35
