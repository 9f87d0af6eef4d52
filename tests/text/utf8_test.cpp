// UTF-8 validation and Python's bytes.decode("utf-8", errors="replace").
// Expected strings were produced by CPython 3 for the same bytes.
#include <gtest/gtest.h>

#include "text/utf8.h"

namespace emu35::text {
namespace {

const std::string R = "\xEF\xBF\xBD";  // U+FFFD

TEST(Utf8, ReplaceMatchesPython) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"plain ascii", "plain ascii"},
      {"\xFF", R},
      {"\xE2\x82", R},                          // truncated at the end: one subpart
      {"\xE2\x82" "A", R + "A"},
      {"\xE0\x80\x80", R + R + R},              // overlong: E0 needs A0..BF next
      {"\xED\xA0\x80", R + R + R},              // surrogate: ED needs 80..9F next
      {"\xF0\x9F\x98", R},
      {"\xF4\x90\x80\x80", R + R + R + R},      // above U+10FFFF
      {"\xC0\xAF", R + R},
      {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},  // U+1F600 is fine
      {"a\xF1\x80\x80\xE1\x80\xC2" "b", "a" + R + R + R + "b"},
      {"\xF5\x80", R + R},
      {"\xE0\xA0", R},
      {"\xF0\x8F\xBF\xBF", R + R + R + R},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(utf8_replace_invalid(in), want) << "input size " << in.size();
}

TEST(Utf8, InvalidOffset) {
  EXPECT_EQ(utf8_invalid_offset("hello \xE4\xB8\x96\xE7\x95\x8C"), std::string_view::npos);
  EXPECT_EQ(utf8_invalid_offset("0123456789abcdef\x80"), 16u);  // past the 8-byte fast path
  EXPECT_EQ(utf8_invalid_offset("ab\xC3"), 2u);
  EXPECT_EQ(utf8_invalid_offset("\xED\xA0\x80"), 0u);
  EXPECT_EQ(utf8_invalid_offset("\xF4\x8F\xBF\xBF"), std::string_view::npos);  // U+10FFFF
}

TEST(Utf8, AppendAndDecodeRoundTrip) {
  for (char32_t cp : {0x0u, 0x41u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    utf8_append(s, cp);
    EXPECT_EQ(utf8_invalid_offset(s), std::string_view::npos) << static_cast<uint32_t>(cp);
    size_t len = 0;
    EXPECT_EQ(utf8_decode_valid(reinterpret_cast<const unsigned char*>(s.data()), 0, &len), cp);
    EXPECT_EQ(len, s.size());
  }
}

}  // namespace
}  // namespace emu35::text
