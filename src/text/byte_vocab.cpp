#include "text/byte_vocab.h"

#include <cstdio>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "text/special_tokens.h"

namespace emu35 {

namespace {
std::string base64(unsigned char b) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string s;
  s += a[b >> 2];
  s += a[(b & 3) << 4];
  s += "==";
  return s;
}
}  // namespace

void write_byte_level_tokenizer(const std::filesystem::path& dir) {
  // Byte-level BPE orders its single bytes: printable ranges first
  // ('!'..'~', 0xA1..0xAC, 0xAE..0xFF), then the rest in byte order.
  std::vector<int> order;
  for (int b = '!'; b <= '~'; ++b) order.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) order.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) order.push_back(b);
  for (int b = 0; b < 256; ++b)
    if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) order.push_back(b);
  std::string tik;
  for (size_t r = 0; r < order.size(); ++r) tik += base64(static_cast<unsigned char>(order[r])) + " " + std::to_string(r) + "\n";
  std::filesystem::create_directories(dir);
  write_file_atomic(dir / "emu3.tiktoken", tik);

  std::string vis = "<|image token|>\n<|image start|>\n<|image end|>\n";
  vis.reserve(static_cast<size_t>(tok::NUM_VISUAL) * 25 + 64);
  char buf[40];
  for (int c = 0; c < tok::NUM_VISUAL; ++c) {
    int n = std::snprintf(buf, sizeof buf, "<|visual token %06d|>\n", c);
    vis.append(buf, static_cast<size_t>(n));
  }
  write_file_atomic(dir / "emu3_vision_tokens.txt", vis);
  write_file_atomic(dir / "tokenizer_config.json",
                    "{\n  \"model_max_length\": 1000000000000000000,\n  \"tokenizer_class\": \"Emu3Tokenizer\"\n}\n");
}

}  // namespace emu35
