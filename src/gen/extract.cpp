#include "gen/extract.h"

#include <algorithm>

#include "text/special_tokens.h"
#include "text/tokenizer.h"

namespace emu35 {

const char* segment_kind_name(Segment::Kind k) {
  switch (k) {
    case Segment::Kind::Text: return "text";
    case Segment::Kind::GlobalCot: return "global_cot";
    case Segment::Kind::ImageCot: return "image_cot";
    case Segment::Kind::Image: return "image";
  }
  return "?";
}

namespace {
bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; });
}

// Rows are split at EOL; within a row only visual tokens count. All rows must
// have the same length (upstream fails the picture otherwise).
bool parse_image(std::span<const int32_t> body, Segment* seg) {
  std::vector<std::vector<int32_t>> rows(1);
  for (int32_t t : body) {
    if (t == tok::EOL) rows.emplace_back();
    else if (tok::is_visual(t)) rows.back().push_back(tok::visual_code(t));
  }
  if (rows.front().empty()) return false;
  for (auto& r : rows)
    if (r.size() != rows.front().size()) return false;
  seg->kind = Segment::Kind::Image;
  seg->h = static_cast<int>(rows.size());
  seg->w = static_cast<int>(rows.front().size());
  for (auto& r : rows) seg->codes.insert(seg->codes.end(), r.begin(), r.end());
  return true;
}
}  // namespace

std::vector<Segment> extract_segments(std::span<const int32_t> ids_in, const Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  ids.reserve(ids_in.size());
  for (int32_t t : ids_in)
    if (t != tok::ESS && t != tok::EOS) ids.push_back(t);

  std::vector<Segment> out;
  std::vector<int32_t> text;  // pending plain-text ids
  auto flush_text = [&] {
    if (text.empty()) return;
    // A leftover chunk holding a dangling BOI is an unfinished picture: dropped.
    bool dangling = std::find(text.begin(), text.end(), tok::BOI) != text.end();
    std::string s = tokenizer.decode(text);
    if (!dangling && !blank(s)) out.push_back({Segment::Kind::Text, s, 0, 0, {}});
    text.clear();
  };
  size_t i = 0;
  while (i < ids.size()) {
    int32_t t = ids[i];
    int32_t close = t == tok::BOG ? tok::EOG : t == tok::BOC ? tok::EOC : t == tok::BOI ? tok::EOI : -1;
    size_t end = ids.size();
    if (close >= 0) end = static_cast<size_t>(std::find(ids.begin() + i + 1, ids.end(), close) - ids.begin());
    if (close < 0 || end == ids.size()) {  // plain text, or an opener that never closes
      text.push_back(t);
      ++i;
      continue;
    }
    flush_text();
    std::span<const int32_t> body(ids.data() + i + 1, end - i - 1);
    Segment seg;
    if (t == tok::BOI) {
      if (parse_image(body, &seg)) out.push_back(std::move(seg));
    } else {
      seg.kind = t == tok::BOG ? Segment::Kind::GlobalCot : Segment::Kind::ImageCot;
      seg.text = tokenizer.decode(std::vector<int32_t>(body.begin(), body.end()));
      out.push_back(std::move(seg));
    }
    i = end + 1;
  }
  flush_text();
  return out;
}

}  // namespace emu35
