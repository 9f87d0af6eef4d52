#include "text/char_class.h"

#include <unicode/uchar.h>
#include <unicode/ucpmap.h>
#include <unicode/uset.h>

#include <memory>

#include "common/error.h"

namespace emu35::text::detail {

// ASCII: letters, digits, White_Space (\t \n \v \f \r and space), the rest other.
#define O 0
#define L 1
#define N 2
#define S 3
#define R 4
const uint8_t kAsciiClass[128] = {
    O, O, O, O, O, O, O, O, O, S, R, S, S, R, O, O,  // 0x00: \t=S \n=R \v \f=S \r=R
    O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,  // 0x10
    S, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,  // 0x20: space
    N, N, N, N, N, N, N, N, N, N, O, O, O, O, O, O,  // 0x30: digits
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,  // 0x40: A-O
    L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,  // 0x50: P-Z
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,  // 0x60: a-o
    L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,  // 0x70: p-z
};
#undef O
#undef L
#undef N
#undef S
#undef R

namespace {

// One byte per code point: a flat table is one load per character, and only
// the pages of scripts actually seen are ever touched.
std::unique_ptr<uint8_t[]> build_table() {
  auto t = std::make_unique<uint8_t[]>(0x110000);  // zero = kOther
  UErrorCode ec = U_ZERO_ERROR;
  const UCPMap* gc = u_getIntPropertyMap(UCHAR_GENERAL_CATEGORY, &ec);
  check(U_SUCCESS(ec) && gc, "tokenizer: ICU general category map unavailable");
  for (UChar32 start = 0; start < 0x110000;) {
    uint32_t value = 0;
    UChar32 end = ucpmap_getRange(gc, start, UCPMAP_RANGE_NORMAL, 0, nullptr, nullptr, &value);
    check(end >= start, "tokenizer: ICU general category map is incomplete");
    uint32_t mask = U_MASK(static_cast<int32_t>(value));
    uint8_t cls = (mask & U_GC_L_MASK) ? 1 : (mask & U_GC_N_MASK) ? 2 : 0;
    if (cls)
      for (UChar32 c = start; c <= end; ++c) t[c] = cls;
    start = end + 1;
  }
  const USet* ws = u_getBinaryPropertySet(UCHAR_WHITE_SPACE, &ec);
  check(U_SUCCESS(ec) && ws, "tokenizer: ICU White_Space set unavailable");
  for (int32_t i = 0, n = uset_getRangeCount(ws); i < n; ++i) {
    UChar32 a = 0, b = 0;
    uset_getItem(ws, i, &a, &b, nullptr, 0, &ec);
    for (UChar32 c = a; c <= b; ++c) t[c] = (c == '\r' || c == '\n') ? 4 : 3;
  }
  for (int c = 0; c < 128; ++c) t[c] = kAsciiClass[c];
  return t;
}

}  // namespace

const uint8_t* unicode_class_table() {
  static const std::unique_ptr<uint8_t[]> table = build_table();
  return table.get();
}

}  // namespace emu35::text::detail
