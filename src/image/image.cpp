#include "image/image.h"

#include <string>

#include "common/error.h"

namespace emu35 {

void check_image(const Image& img, const char* what) {
  check(img.width > 0 && img.height > 0,
        std::string(what) + ": image has no pixels (" + std::to_string(img.width) + "x" +
            std::to_string(img.height) + ")");
  check(img.rgb.size() == img.pixel_count() * 3,
        std::string(what) + ": pixel buffer holds " + std::to_string(img.rgb.size()) +
            " bytes, expected " + std::to_string(img.pixel_count() * 3) + " for " +
            std::to_string(img.width) + "x" + std::to_string(img.height) + " RGB");
}

}  // namespace emu35
