// The web page's files (src/app/serve/web/*), embedded into the binary at
// build time by cmake/embed.cmake: the page needs nothing at run time.
#pragma once
#include <cstddef>
#include <string_view>
#include <vector>

namespace emu35::app::serve {

struct WebAsset {
  std::string_view name;  // file name, e.g. "index.html"
  std::string_view data;
};

// Defined in the generated web_assets.cpp.
const std::vector<WebAsset>& web_assets();

}  // namespace emu35::app::serve
