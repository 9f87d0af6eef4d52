#include "text/nfc.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

#include <cstring>

#include "common/error.h"

namespace emu35::text {

bool is_nfc_or_normalize(std::string_view text, std::string& out) {
  // Every code point below U+0300 is NFC_Quick_Check=Yes and never composes
  // with what precedes it; their UTF-8 bytes are all below 0xCC.
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  const size_t n = text.size();
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    // Any byte >= 0xC0 has its top two bits set.
    if (w & (w << 1) & 0x8080808080808080ull) break;
  }
  for (; i < n && s[i] < 0xCC; ++i) {
  }
  if (i >= n) return true;

  UErrorCode ec = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(ec);
  if (U_FAILURE(ec)) throw Error(std::string("tokenizer: ICU NFC normalizer unavailable: ") + u_errorName(ec));
  icu::StringPiece sp(text.data(), static_cast<int32_t>(text.size()));
  if (nfc->isNormalizedUTF8(sp, ec) && U_SUCCESS(ec)) return true;
  ec = U_ZERO_ERROR;
  out.clear();
  out.reserve(text.size() + text.size() / 8);
  icu::StringByteSink<std::string> sink(&out);
  nfc->normalizeUTF8(0, sp, sink, nullptr, ec);
  if (U_FAILURE(ec)) throw Error(std::string("tokenizer: NFC normalisation failed: ") + u_errorName(ec));
  return false;
}

}  // namespace emu35::text
