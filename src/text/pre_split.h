// The upstream pre-tokenization regex, hand-coded (pipeline doc §2.2):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with tiktoken's semantics (fancy-regex: leftmost-first alternation with
// backtracking; \s = White_Space; (?i) by simple case folding, so 'ſ matches 's).
// Every character falls in some alternative, so pieces tile the text exactly.
#pragma once
#include <cstddef>
#include <string_view>

namespace emu35::text {

// End (byte offset) of the piece that starts at `pos` in `text`, which must be
// valid UTF-8 with pos < text.size() on a character boundary. The end of
// `text` is the end of input for the lookahead.
size_t pre_split_next(std::string_view text, size_t pos);

// Calls fn(std::string_view piece) for every piece of `text`, in order.
template <class Fn>
void pre_split(std::string_view text, Fn&& fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = pre_split_next(text, pos);
    fn(text.substr(pos, end - pos));
    pos = end;
  }
}

}  // namespace emu35::text
