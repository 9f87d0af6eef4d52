// PIL-exact resizing: Image.resize((w, h), Image.BICUBIC) on RGB pictures, and
// upstream's smart_resize (target area, aspect kept, sides multiples of 16).
#pragma once
#include <cstdint>
#include <utility>

#include "image/image.h"

namespace emu35 {

// Byte-for-byte Pillow's antialiased bicubic (libImaging/Resample.c): a = -0.5
// kernel whose support widens with the downscale factor, per-output
// coefficients normalised to sum 1, then 22-bit fixed point (PIL's
// PRECISION_BITS = 32 - 8 - 2) with PIL's rounding; horizontal pass over only
// the source rows the vertical pass uses, then the vertical pass, each output
// rounded (+half) and clipped to 0..255. Same size returns a copy, as PIL does.
// Throws emu35::Error for an invalid input or a non-positive target side.
Image resize_bicubic(const Image& src, int new_w, int new_h);

// Upstream smart_resize's size (Python float math, reproduced in double):
//   a = w / h; nh = int(sqrt(area / a)); nw = int(nh * a);
//   each side -> ((x + 8) // 16) * 16.
// Returns {new_w, new_h}. Throws emu35::Error when a side rounds to 0 (an
// extremely thin picture for the area), or for non-positive inputs.
std::pair<int, int> smart_resize_size(int w, int h, int64_t area);

// resize_bicubic(img, smart_resize_size(img.width, img.height, area)).
Image smart_resize(const Image& img, int64_t area);

}  // namespace emu35
