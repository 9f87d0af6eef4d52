#include "app/serve/base64.h"

#include <array>

#include "common/error.h"

namespace emu35::app::serve {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr auto kTable = make_table();

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::vector<uint8_t> base64_decode(std::string_view text, const std::string& what) {
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0, pad = 0;
  size_t n = 0;  // alphabet characters seen
  for (char c : text) {
    if (is_space(c)) continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    const int8_t v = kTable[static_cast<uint8_t>(c)];
    if (v < 0 || pad > 0) throw Error(what + ": not valid base64 (unexpected character '" + std::string(1, c) + "')");
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    ++n;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xFF));
    }
  }
  if (n % 4 == 1 || pad > 2) throw Error(what + ": not valid base64 (truncated)");
  return out;
}

bool is_data_uri(std::string_view s) { return s.size() >= 5 && s.substr(0, 5) == "data:"; }

DataUri parse_data_uri(std::string_view s, const std::string& what) {
  if (!is_data_uri(s)) throw Error(what + ": expected a data: URI");
  const size_t comma = s.find(',');
  if (comma == std::string_view::npos) throw Error(what + ": data URI without a ',' before its payload");
  std::string_view meta = s.substr(5, comma - 5);
  const size_t b64 = meta.rfind(";base64");
  if (b64 == std::string_view::npos || b64 + 7 != meta.size())
    throw Error(what + ": only base64 data URIs are accepted (data:image/png;base64,...)");
  DataUri d;
  std::string_view mt = meta.substr(0, b64);
  d.media_type = std::string(mt.substr(0, mt.find(';')));
  d.bytes = base64_decode(s.substr(comma + 1), what);
  if (d.bytes.empty()) throw Error(what + ": the data URI is empty");
  return d;
}

std::string make_data_uri(std::string_view media_type, std::string_view bytes) {
  return "data:" + std::string(media_type) + ";base64," + base64_encode(bytes);
}

}  // namespace emu35::app::serve
