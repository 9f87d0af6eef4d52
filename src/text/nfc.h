// NFC normalisation (upstream normalises every text before tokenizing).
#pragma once
#include <string>
#include <string_view>

namespace emu35::text {

// True when `text` (valid UTF-8) is already in NFC; otherwise writes the NFC
// form to `out` and returns false. Text below U+0300 is decided without ICU.
bool is_nfc_or_normalize(std::string_view text, std::string& out);

}  // namespace emu35::text
