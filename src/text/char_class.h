// The four character classes the upstream pre-split regex distinguishes:
// \p{L}, \p{N}, \s (Unicode White_Space, as Rust's regex crate defines it) and
// everything else. \r and \n get their own class because the regex names them.
#pragma once
#include <cstdint>

namespace emu35::text {

enum class CharClass : uint8_t {
  kOther = 0,    // [^\s\p{L}\p{N}]
  kLetter = 1,   // \p{L}: Lu Ll Lt Lm Lo
  kNumber = 2,   // \p{N}: Nd Nl No
  kSpace = 3,    // White_Space other than \r and \n
  kNewline = 4,  // \r or \n (also White_Space)
};

namespace detail {
extern const uint8_t kAsciiClass[128];
const uint8_t* unicode_class_table();  // 0x110000 entries, built from ICU on first use
}  // namespace detail

inline CharClass char_class(char32_t cp) {
  if (cp < 128) return static_cast<CharClass>(detail::kAsciiClass[cp]);
  static const uint8_t* table = detail::unicode_class_table();
  return cp < 0x110000 ? static_cast<CharClass>(table[cp]) : CharClass::kOther;
}

inline bool is_space_class(CharClass c) { return c == CharClass::kSpace || c == CharClass::kNewline; }

}  // namespace emu35::text
