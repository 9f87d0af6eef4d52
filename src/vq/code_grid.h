// A picture's IBQ codes: h rows of w code ids, row-major, and its JSON form
// {"height": h, "width": w, "codes": [[...w ids...], ...h rows...]} as
// `emu35 vq-encode` prints it and `emu35 vq-decode` reads it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace emu35::vq {

struct CodeGrid {
  int h = 0, w = 0;
  std::vector<int32_t> codes;  // h * w

  int32_t at(int y, int x) const { return codes[size_t(y) * size_t(w) + size_t(x)]; }
};

// Compact JSON: one line per row of codes.
std::string code_grid_to_json(const CodeGrid& g);

// Accepts the object above ("height"/"width" optional but checked when present)
// or a bare list of rows. Rows must be equally long and every id in
// [0, n_embed) (n_embed <= 0 skips that check). Errors name `source`, the row
// and the column.
CodeGrid code_grid_from_json(const std::string& text, const std::string& source, int64_t n_embed);

}  // namespace emu35::vq
