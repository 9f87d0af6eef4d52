#include "app/serve/preview.h"

#include <algorithm>
#include <vector>

#include "gen/image_grammar.h"
#include "text/special_tokens.h"

namespace emu35::app::serve {

std::optional<vq::CodeGrid> partial_picture(std::span<const int32_t> answer) {
  size_t boi = answer.size();
  for (size_t i = answer.size(); i-- > 0;)
    if (answer[i] == tok::BOI) {
      boi = i;
      break;
    }
  if (boi == answer.size()) return std::nullopt;
  size_t img = answer.size();
  for (size_t i = boi + 1; i < answer.size(); ++i) {
    if (answer[i] == tok::EOI) return std::nullopt;  // already finished
    if (answer[i] == tok::IMG) {
      img = i;
      break;
    }
  }
  if (img == answer.size()) return std::nullopt;
  const auto size = parse_image_header(answer.subspan(0, img + 1));
  if (!size) return std::nullopt;
  std::vector<int32_t> codes;
  for (size_t i = img + 1; i < answer.size(); ++i) {
    const int32_t t = answer[i];
    if (t == tok::EOI) return std::nullopt;
    if (tok::is_visual(t)) codes.push_back(tok::visual_code(t));
  }
  const int rows = std::min(size->h, static_cast<int>(codes.size() / static_cast<size_t>(size->w)));
  if (rows < 1) return std::nullopt;
  codes.resize(static_cast<size_t>(rows) * static_cast<size_t>(size->w));
  return vq::CodeGrid{rows, size->w, std::move(codes)};
}

}  // namespace emu35::app::serve
