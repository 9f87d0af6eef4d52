#include "text/vocab_files.h"

#include <array>
#include <charconv>
#include <cstring>

#include "common/error.h"
#include "common/file_util.h"
#include "text/special_tokens.h"

namespace emu35::text {

namespace {

// Splits `data` into lines (\n, with an optional \r before it), calling
// fn(line, 1-based line number) for each non-blank one.
template <class Fn>
void for_each_line(std::string_view data, Fn&& fn) {
  size_t pos = 0, line_no = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    size_t end = nl == std::string_view::npos ? data.size() : nl;
    std::string_view line = data.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_no;
    if (!line.empty()) fn(line, line_no);
    pos = end + 1;
  }
}

std::string where(const std::filesystem::path& path, size_t line_no) {
  return path.string() + ":" + std::to_string(line_no) + ": ";
}

std::string quoted(std::string_view line) {
  std::string s(line.substr(0, 60));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  return "\"" + s + (line.size() > 60 ? "...\"" : "\"");
}

}  // namespace

bool base64_decode(std::string_view in, std::string& out) {
  static const auto table = [] {
    std::array<int8_t, 256> t;
    t.fill(-1);
    const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(abc[i])] = static_cast<int8_t>(i);
    return t;
  }();
  out.clear();
  if (in.empty() || in.size() % 4 != 0) return false;
  size_t pad = 0;
  if (in.back() == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t v = 0;
    const bool last = i + 4 == in.size();
    for (size_t k = 0; k < 4; ++k) {
      if (last && k >= 4 - pad) {
        v <<= 6;
        continue;
      }
      int8_t d = table[static_cast<unsigned char>(in[i + k])];
      if (d < 0) return false;
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (!last || pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xFF));
    if (!last || pad < 1) out.push_back(static_cast<char>(v & 0xFF));
  }
  return true;
}

std::vector<std::string> read_tiktoken_file(const std::filesystem::path& path) {
  check(std::filesystem::is_regular_file(path), "tokenizer: " + path.string() + " not found");
  const std::string data = read_whole_file(path);
  std::vector<std::string> tokens;
  tokens.reserve(tok::NUM_BPE_RANKS);
  std::string bytes;
  // Messages are built only on failure: this loop runs 151643 times.
  for_each_line(data, [&](std::string_view line, size_t line_no) {
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos || line.find(' ', sp + 1) != std::string_view::npos)
      throw Error(where(path, line_no) + "expected \"<base64> <rank>\", got " + quoted(line));
    std::string_view b64 = line.substr(0, sp), num = line.substr(sp + 1);
    if (!base64_decode(b64, bytes)) throw Error(where(path, line_no) + "malformed base64 token " + quoted(b64));
    int64_t rank = -1;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), rank);
    if (ec != std::errc() || p != num.data() + num.size() || num.empty())
      throw Error(where(path, line_no) + "malformed rank " + quoted(num));
    if (rank != static_cast<int64_t>(tokens.size()))
      throw Error(where(path, line_no) + "rank " + std::string(num) +
                  " out of order: ranks must run 0,1,2,... (expected " + std::to_string(tokens.size()) + ")");
    if (rank >= tok::NUM_BPE_RANKS)
      throw Error(where(path, line_no) + "more than " + std::to_string(tok::NUM_BPE_RANKS) + " ranks: rank " +
                  std::string(num) + " would collide with the special tokens");
    tokens.push_back(bytes);
  });
  check(!tokens.empty(), "tokenizer: " + path.string() + " holds no ranks");
  return tokens;
}

int32_t read_vision_tokens_file(const std::filesystem::path& path) {
  check(std::filesystem::is_regular_file(path), "tokenizer: " + path.string() + " not found");
  const std::string data = read_whole_file(path);
  static constexpr std::string_view kHead[3] = {"<|image token|>", "<|image start|>", "<|image end|>"};
  static constexpr std::string_view kPrefix = "<|visual token ";
  int32_t count = 0;  // lines seen so far
  for_each_line(data, [&](std::string_view line, size_t line_no) {
    // upstream strips each line before use
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty()) return;
    if (count < 3) {
      if (line != kHead[count])
        throw Error(where(path, line_no) + "expected " + std::string(kHead[count]) + ", got " + quoted(line));
    } else {
      const int32_t code = count - 3;
      if (code >= tok::NUM_VISUAL)
        throw Error(where(path, line_no) + "more than " + std::to_string(tok::NUM_VISUAL) + " visual tokens");
      // "<|visual token DDDDDD|>", six digits equal to the code
      bool ok = line.size() == kPrefix.size() + 8 && line.starts_with(kPrefix) && line.ends_with("|>");
      int32_t value = 0;
      for (size_t k = 0; ok && k < 6; ++k) {
        char c = line[kPrefix.size() + k];
        ok = c >= '0' && c <= '9';
        value = value * 10 + (c - '0');
      }
      if (!ok || value != code) {
        char expect[32];
        std::snprintf(expect, sizeof expect, "<|visual token %06d|>", code);
        throw Error(where(path, line_no) + "expected " + expect + ", got " + quoted(line));
      }
    }
    ++count;
  });
  check(count >= 3, "tokenizer: " + path.string() + " must start with <|image token|>, <|image start|>, <|image end|>");
  return count - 3;
}

}  // namespace emu35::text
