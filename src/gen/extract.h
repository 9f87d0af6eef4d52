// Splits generated ids into what a user gets (upstream multimodal_decode):
// text, global CoT (<|extra_60|>..<|extra_61|>), image CoT (<|extra_50|>..
// <|extra_51|>) and complete images as code grids. <|extra_101|> and
// <|extra_204|> are dropped; an unfinished picture is dropped.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace emu35 {

class Tokenizer;

struct Segment {
  enum class Kind { Text, GlobalCot, ImageCot, Image };
  Kind kind = Kind::Text;
  std::string text;            // Text / GlobalCot / ImageCot
  int h = 0, w = 0;            // Image: rows x columns of codes
  std::vector<int32_t> codes;  // Image: h*w codes, row-major
};

const char* segment_kind_name(Segment::Kind k);

// `decode` turns a run of text ids into a string (the tokenizer's decode).
std::vector<Segment> extract_segments(std::span<const int32_t> ids, const Tokenizer& tok);

}  // namespace emu35
