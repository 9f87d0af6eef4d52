#include "text/pre_split.h"

#include "text/char_class.h"
#include "text/utf8.h"

namespace emu35::text {

namespace {

struct Cursor {
  const unsigned char* s;
  size_t n;

  // Class and byte length of the character at i (i < n).
  CharClass at(size_t i, size_t* len) const {
    if (s[i] < 0x80) {
      *len = 1;
      return static_cast<CharClass>(detail::kAsciiClass[s[i]]);
    }
    char32_t cp = utf8_decode_valid(s, i, len);
    return char_class(cp);
  }

  size_t skip_while(size_t i, CharClass want) const {
    size_t len;
    while (i < n && at(i, &len) == want) i += len;
    return i;
  }
};

// The character at i folded for (?i:'s|'t|'re|'ve|'m|'ll|'d): ASCII letters to
// lower case, U+017F LATIN SMALL LETTER LONG S (whose simple case fold is 's')
// to 's'. Anything else -> 0. *len receives the byte length.
inline char fold_at(const unsigned char* s, size_t n, size_t i, size_t* len) {
  if (i >= n) return 0;
  unsigned c = s[i];
  if (c < 0x80) {
    *len = 1;
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : static_cast<char>(c);
  }
  if (c == 0xC5 && i + 1 < n && s[i + 1] == 0xBF) {
    *len = 2;
    return 's';
  }
  return 0;
}

// Length of a contraction at i (which holds '\''), or 0.
size_t contraction(const unsigned char* s, size_t n, size_t i) {
  size_t l1 = 0, l2 = 0;
  char a = fold_at(s, n, i + 1, &l1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 1 + l1;
  if (a == 'r' || a == 'v') return fold_at(s, n, i + 1 + l1, &l2) == 'e' ? 1 + l1 + l2 : 0;
  if (a == 'l') return fold_at(s, n, i + 1 + l1, &l2) == 'l' ? 1 + l1 + l2 : 0;
  return 0;
}

}  // namespace

size_t pre_split_next(std::string_view text, size_t pos) {
  const Cursor cur{reinterpret_cast<const unsigned char*>(text.data()), text.size()};
  const size_t n = cur.n;
  size_t len0;
  const CharClass c0 = cur.at(pos, &len0);
  const size_t p1 = pos + len0;  // start of the second character
  size_t len1 = 0;
  const CharClass c1 = p1 < n ? cur.at(p1, &len1) : CharClass::kNewline;  // kNewline: "no char" for the tests below

  // 1. (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (cur.s[pos] == '\'') {
    if (size_t k = contraction(cur.s, n, pos)) return pos + k;
  }
  // 2. [^\r\n\p{L}\p{N}]?\p{L}+  (a letter cannot be the optional prefix, so
  //    either the run starts here or after one non-letter, non-number char).
  if (c0 == CharClass::kLetter) return cur.skip_while(p1, CharClass::kLetter);
  if (c0 != CharClass::kNewline && c0 != CharClass::kNumber && p1 < n && c1 == CharClass::kLetter)
    return cur.skip_while(p1 + len1, CharClass::kLetter);
  // 3. \p{N}: one character.
  if (c0 == CharClass::kNumber) return p1;
  // 4. ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  size_t other_start = n;  // where the [^\s\p{L}\p{N}]+ run starts, if it matches
  if (c0 == CharClass::kOther) other_start = pos;
  else if (cur.s[pos] == ' ' && p1 < n && c1 == CharClass::kOther) other_start = p1;
  if (other_start < n) {
    size_t e = cur.skip_while(other_start, CharClass::kOther);
    while (e < n && (cur.s[e] == '\r' || cur.s[e] == '\n')) ++e;
    return e;
  }
  // c0 is whitespace from here on. Scan the maximal run, remembering the end of
  // its last \r / \n and where its last character starts.
  size_t e = pos, last_nl_end = 0, last_start = pos, len;
  while (e < n) {
    CharClass c = cur.at(e, &len);
    if (!is_space_class(c)) break;
    if (c == CharClass::kNewline) last_nl_end = e + len;
    last_start = e;
    e += len;
  }
  // 5. \s*[\r\n]+ : \s* backs off to the last newline of the run.
  if (last_nl_end) return last_nl_end;
  // 6. \s+(?!\S) : the whole run at end of text, else all but its last char.
  if (e == n) return e;
  if (last_start > pos) return last_start;
  // 7. \s+ : a single whitespace char before a non-space.
  return e;
}

}  // namespace emu35::text
