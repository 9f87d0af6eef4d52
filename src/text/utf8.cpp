#include "text/utf8.h"

#include <cstring>

namespace emu35::text {

namespace {

// Length of the well-formed prefix of the sequence starting at s[i] (Unicode
// Table 3-7) and whether it is complete. A lead byte that cannot start a
// sequence gives prefix 1, complete false.
struct SeqCheck {
  size_t len;  // bytes examined that belong to the (possibly partial) sequence
  bool ok;     // true: a complete well-formed sequence of `len` bytes
};

inline SeqCheck check_sequence(const unsigned char* s, size_t n, size_t i) {
  unsigned c = s[i];
  if (c < 0x80) return {1, true};
  size_t need;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;       // no overlongs
    else if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;       // no overlongs
    else if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {1, false};  // 80..C1, F5..FF never start a sequence
  }
  size_t k = 1;
  for (; k < need; ++k) {
    if (i + k >= n) return {k, false};  // truncated: the prefix is one subpart
    unsigned b = s[i + k];
    unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return {k, false};
  }
  return {need, true};
}

}  // namespace

size_t utf8_invalid_offset(std::string_view sv) {
  const auto* s = reinterpret_cast<const unsigned char*>(sv.data());
  const size_t n = sv.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    SeqCheck r = check_sequence(s, n, i);
    if (!r.ok) return i;
    i += r.len;
  }
  return std::string_view::npos;
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string utf8_replace_invalid(std::string bytes) {
  size_t bad = utf8_invalid_offset(bytes);
  if (bad == std::string_view::npos) return bytes;  // the common case: no copy
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  std::string out;
  out.reserve(n + 16);
  out.append(bytes, 0, bad);
  size_t i = bad;
  while (i < n) {
    SeqCheck r = check_sequence(s, n, i);
    if (r.ok) {
      out.append(bytes, i, r.len);
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD for the maximal ill-formed subpart
    }
    i += r.len;
  }
  return out;
}

}  // namespace emu35::text
