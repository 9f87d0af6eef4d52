// UTF-8 helpers for the tokenizer: validation, decoding one code point from
// known-valid text, and Python's bytes.decode("utf-8", errors="replace").
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace emu35::text {

// Byte offset of the first ill-formed sequence, or npos when `s` is valid UTF-8
// (no surrogates, no overlongs, nothing above U+10FFFF).
size_t utf8_invalid_offset(std::string_view s);

// Decodes the code point at s[i] of text that is known to be valid UTF-8;
// *len receives its byte length.
inline char32_t utf8_decode_valid(const unsigned char* s, size_t i, size_t* len) {
  unsigned c = s[i];
  if (c < 0x80) {
    *len = 1;
    return c;
  }
  if (c < 0xE0) {
    *len = 2;
    return ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
  }
  if (c < 0xF0) {
    *len = 3;
    return ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
  }
  *len = 4;
  return ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
}

// Appends the UTF-8 encoding of `cp` (a valid scalar value).
void utf8_append(std::string& out, char32_t cp);

// bytes.decode("utf-8", errors="replace"): each maximal ill-formed subpart
// (Unicode's "best practice", which CPython follows) becomes one U+FFFD.
std::string utf8_replace_invalid(std::string bytes);

}  // namespace emu35::text
