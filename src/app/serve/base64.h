// Base64 (RFC 4648, standard alphabet) and data: URIs, for pictures carried
// inside JSON: Cog's file inputs/outputs and OpenAI's b64_json / data URLs.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace emu35::app::serve {

std::string base64_encode(std::string_view bytes);

// Strict decode: whitespace is skipped, padding optional; any other character
// outside the alphabet throws emu35::Error naming `what`.
std::vector<uint8_t> base64_decode(std::string_view text, const std::string& what);

struct DataUri {
  std::string media_type;  // "image/png", ... ("" when absent)
  std::vector<uint8_t> bytes;
};

bool is_data_uri(std::string_view s);
// "data:[media type][;params];base64,<data>"; only base64 payloads are
// accepted (pictures are binary). Throws emu35::Error naming `what`.
DataUri parse_data_uri(std::string_view s, const std::string& what);
std::string make_data_uri(std::string_view media_type, std::string_view bytes);

}  // namespace emu35::app::serve
