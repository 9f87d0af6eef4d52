// WebP through libwebp (when the build found it: EMU35_HAVE_WEBP). Still
// images only: PIL decodes WebP with WebPAnimDecoder in straight RGBA, which
// for a still image is the frame as WebPDecode gives it; we decode RGBA the
// same way and drop alpha.
#include <string>
#include <vector>

#include "common/error.h"
#include "image/codecs.h"
#include "image/image_write.h"

#ifdef EMU35_HAVE_WEBP
#include <webp/decode.h>
#include <webp/encode.h>
#endif

namespace emu35 {

#ifdef EMU35_HAVE_WEBP
namespace {

const char* vp8_status_text(VP8StatusCode s) {
  switch (s) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data (truncated)";
  }
  return "unknown error";
}

}  // namespace

namespace codec {

Image decode_webp(std::span<const uint8_t> bytes, const std::string& name, uint64_t max_pixels) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) throw Error("image '" + name + "': libwebp version mismatch");
  VP8StatusCode st = WebPGetFeatures(bytes.data(), bytes.size(), &config.input);
  if (st != VP8_STATUS_OK)
    throw Error("image '" + name + "': corrupt or truncated WebP (" + vp8_status_text(st) + ")");
  check_pixel_limit(uint64_t(config.input.width), uint64_t(config.input.height), max_pixels, name);
  if (config.input.has_animation)
    throw Error("image '" + name + "': animated WebP is not supported");

  const size_t w = size_t(config.input.width), h = size_t(config.input.height);
  std::vector<uint8_t> rgba(w * h * 4);
  config.output.colorspace = MODE_RGBA;  // straight alpha, as PIL's decoder default
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = rgba.data();
  config.output.u.RGBA.stride = int(w * 4);
  config.output.u.RGBA.size = rgba.size();
  st = WebPDecode(bytes.data(), bytes.size(), &config);
  WebPFreeDecBuffer(&config.output);  // nothing owned with external memory; keeps libwebp's contract
  if (st != VP8_STATUS_OK)
    throw Error("image '" + name + "': corrupt or truncated WebP (" + vp8_status_text(st) + ")");

  Image img = Image::blank(int(w), int(h));
  uint8_t* d = img.rgb.data();
  const uint8_t* s = rgba.data();
  for (size_t i = 0; i < w * h; ++i, d += 3, s += 4) {
    d[0] = s[0];
    d[1] = s[1];
    d[2] = s[2];
  }
  return img;
}

}  // namespace codec

std::string encode_webp(const Image& img, int quality) {
  check_image(img, "encode_webp");
  check(quality >= 1 && quality <= 100,
        "encode_webp: quality " + std::to_string(quality) + " is outside 1..100");
  check(img.width <= WEBP_MAX_DIMENSION && img.height <= WEBP_MAX_DIMENSION,
        "encode_webp: " + std::to_string(img.width) + "x" + std::to_string(img.height) +
            " exceeds WebP's " + std::to_string(WEBP_MAX_DIMENSION) + "-pixel side limit");
  uint8_t* out = nullptr;
  const size_t n = WebPEncodeRGB(img.rgb.data(), img.width, img.height, img.width * 3,
                                 float(quality), &out);
  if (n == 0 || !out) {
    WebPFree(out);
    throw Error("encode_webp: libwebp failed to encode a " + std::to_string(img.width) + "x" +
                std::to_string(img.height) + " picture");
  }
  std::string bytes;
  try {
    bytes.assign(reinterpret_cast<const char*>(out), n);
  } catch (...) {
    WebPFree(out);
    throw;
  }
  WebPFree(out);
  return bytes;
}

#else  // built without libwebp

namespace codec {
Image decode_webp(std::span<const uint8_t>, const std::string& name, uint64_t) {
  throw Error("image '" + name + "': is WebP, but emu35 was built without WebP support (libwebp)");
}
}  // namespace codec

std::string encode_webp(const Image&, int) {
  throw Error("encode_webp: emu35 was built without WebP support (libwebp)");
}

#endif

}  // namespace emu35
