// Loading the tokenizer files: clear errors for broken files, and a small
// tokenizer (256 byte ranks, 64 visual tokens, as `init-random` models use)
// that keeps every special at its fixed id.
#include <gtest/gtest.h>

#include <random>

#include "support/test_support.h"
#include "text/nfc.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "text/vocab_files.h"

namespace emu35 {
namespace {

std::string b64(std::string_view in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += abc[(v >> (6 * k)) & 63];
  }
  if (in.size() - i == 1) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += abc[v >> 18], out += abc[(v >> 12) & 63], out += "==";
  } else if (in.size() - i == 2) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += abc[v >> 18], out += abc[(v >> 12) & 63], out += abc[(v >> 6) & 63], out += "=";
  }
  return out;
}

std::string byte_ranks_file(const std::vector<std::string>& extra = {}) {
  std::string f;
  int r = 0;
  for (int c = 0; c < 256; ++c) f += b64(std::string(1, static_cast<char>(c))) + " " + std::to_string(r++) + "\n";
  for (const auto& t : extra) f += b64(t) + " " + std::to_string(r++) + "\n";
  return f;
}

std::string vision_file(int n) {
  std::string f = "<|image token|>\n<|image start|>\n<|image end|>\n";
  char buf[32];
  for (int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "<|visual token %06d|>\n", i);
    f += buf;
  }
  return f;
}

// Loads a tokenizer from the given file contents; returns the error text ("" if none).
std::string load_error(const std::string& tiktoken, const std::string& vision) {
  test::TempDir dir("tok");
  test::write_file(dir / Tokenizer::kTiktokenFile, tiktoken);
  test::write_file(dir / Tokenizer::kVisionFile, vision);
  try {
    Tokenizer::load(dir.path());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_error(const std::string& tiktoken, const std::string& vision, const std::string& file_and_line,
                  const std::string& words) {
  const std::string msg = load_error(tiktoken, vision);
  ASSERT_FALSE(msg.empty()) << "expected an error mentioning " << words;
  EXPECT_NE(msg.find(file_and_line), std::string::npos) << msg;
  EXPECT_NE(msg.find(words), std::string::npos) << msg;
}

TEST(TokenizerFiles, Base64) {
  std::string out;
  EXPECT_TRUE(text::base64_decode("IQ==", out));
  EXPECT_EQ(out, "!");
  EXPECT_TRUE(text::base64_decode("4r2X", out));
  EXPECT_EQ(out, "\xE2\xBD\x97");
  for (const char* bad : {"", "I", "IQ=", "I===", "I*==", "IQ==IQ==x", "=QQQ"}) EXPECT_FALSE(text::base64_decode(bad, out)) << bad;
  for (int len = 1; len < 20; ++len) {
    std::string s;
    for (int i = 0; i < len; ++i) s.push_back(static_cast<char>(i * 37 + len));
    ASSERT_TRUE(text::base64_decode(b64(s), out));
    EXPECT_EQ(out, s);
  }
}

TEST(TokenizerFiles, BrokenTiktokenFile) {
  const std::string v = vision_file(4);
  std::string f = byte_ranks_file();
  expect_error("IQ== 0\nIg== 1\n!!!! 2\n", v, "emu3.tiktoken:3", "base64");
  expect_error("IQ== 0\nIg==\n", v, "emu3.tiktoken:2", "<base64> <rank>");
  expect_error("IQ== 0\nIg== 1\nIw== 3\n", v, "emu3.tiktoken:3", "out of order");
  expect_error("IQ== 0\nIg== x1\n", v, "emu3.tiktoken:2", "rank");
  expect_error(f + b64("a") + " 256\n", v, "emu3.tiktoken", "repeats the bytes of rank 97");
  expect_error("IQ== 0\n", v, "emu3.tiktoken", "has no rank");
  expect_error("", v, "emu3.tiktoken", "no ranks");
  std::string too_many;
  for (int r = 0; r <= tok::NUM_BPE_RANKS; ++r) too_many += "QQ== " + std::to_string(r) + "\n";
  expect_error(too_many, v, "emu3.tiktoken:151644", "more than 151643 ranks");
}

TEST(TokenizerFiles, BrokenVisionFile) {
  const std::string f = byte_ranks_file();
  expect_error(f, "<|image start|>\n<|image token|>\n<|image end|>\n", "emu3_vision_tokens.txt:1", "<|image token|>");
  expect_error(f, "<|image token|>\n<|image start|>\n", "emu3_vision_tokens.txt", "must start with");
  std::string v = vision_file(2) + "<|visual token 000003|>\n";
  expect_error(f, v, "emu3_vision_tokens.txt:6", "<|visual token 000002|>");
  expect_error(f, vision_file(1) + "<|visual token 1|>\n", "emu3_vision_tokens.txt:5", "<|visual token 000001|>");
  expect_error(f, vision_file(1) + "<|visual token 00000x|>\n", "emu3_vision_tokens.txt:5", "got");
}

TEST(TokenizerFiles, MissingFilesAndDirectory) {
  test::TempDir dir("tok");
  try {
    Tokenizer::load(dir / "nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
  try {
    Tokenizer::load(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("emu3.tiktoken not found"), std::string::npos) << e.what();
  }
  test::write_file(dir / Tokenizer::kTiktokenFile, byte_ranks_file());
  try {
    Tokenizer::load(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("emu3_vision_tokens.txt not found"), std::string::npos) << e.what();
  }
}

TEST(TokenizerFiles, ToleratesBlankLinesAndCrlf) {
  test::TempDir dir("tok");
  std::string f = byte_ranks_file();
  f.insert(f.find('\n') + 1, "\n");  // a blank line after rank 0
  test::write_file(dir / Tokenizer::kTiktokenFile, f);
  std::string v = vision_file(3);
  for (size_t p = 0; (p = v.find('\n', p)) != std::string::npos; p += 2) v.replace(p, 1, "\r\n");
  test::write_file(dir / Tokenizer::kVisionFile, v);
  const Tokenizer tk = Tokenizer::load(dir.path());
  EXPECT_EQ(tk.num_bpe_ranks(), 256u);
  EXPECT_EQ(tk.num_visual_tokens(), 3);
}

// Random valid UTF-8 over a mix of scripts, whitespace and specials.
std::string random_utf8(std::mt19937& rng, int chars) {
  static const char32_t pool[] = {'a', 'Z', ' ', '\n', '\r', '\t', '\'', '1', '*', '<', '|', '>', 0xE9, 0x301,
                                  0x4E2D, 0x3000, 0x1F600, 0x200D, 0x10FFFF, 0xA0, 0x85, 0x17F, 0x212B};
  std::string s;
  for (int i = 0; i < chars; ++i) {
    if (rng() % 20 == 0) {
      s += "<|extra_203|>";
      continue;
    }
    text::utf8_append(s, rng() % 3 == 0 ? static_cast<char32_t>(0x20 + rng() % 0xD000) : pool[rng() % std::size(pool)]);
  }
  return s;
}

TEST(TokenizerFiles, SmallVocabularyKeepsFixedSpecialIds) {
  test::TempDir dir("tok");
  test::write_file(dir / Tokenizer::kTiktokenFile, byte_ranks_file());
  test::write_file(dir / Tokenizer::kVisionFile, vision_file(64));
  const Tokenizer tk = Tokenizer::load(dir.path());
  EXPECT_EQ(tk.num_bpe_ranks(), 256u);
  EXPECT_EQ(tk.vocab_size(), static_cast<size_t>(tok::BOV + 64));
  EXPECT_EQ(tk.encode("<|extra_203|>"), std::vector<int32_t>{tok::BOS});
  EXPECT_EQ(tk.encode("<|image start|><|image token|><|image end|>"),
            (std::vector<int32_t>{tok::BOI, tok::IMG, tok::EOI}));
  EXPECT_EQ(tk.encode("<|visual token 000063|>"), std::vector<int32_t>{tok::BOV + 63});
  // Code 64 is past this vision file: plain text, byte by byte.
  const auto ids = tk.encode("<|visual token 000064|>");
  EXPECT_EQ(ids.size(), std::string("<|visual token 000064|>").size());
  for (int32_t id : ids) EXPECT_LT(id, 256);
  EXPECT_THROW(tk.visual_id(64), Error);
  // The gap between the byte ranks and PAD: not valid, decodes to nothing.
  EXPECT_FALSE(tk.is_valid_id(256));
  EXPECT_FALSE(tk.is_valid_id(tok::PAD - 1));
  const int32_t gap[] = {'h', 1000, 'i'};
  EXPECT_EQ(tk.decode(gap), "hi");
  const int32_t past[] = {tok::BOV + 64};
  EXPECT_THROW(tk.decode(past), Error);

  std::mt19937 rng(7);
  for (int it = 0; it < 500; ++it) {
    const std::string s = random_utf8(rng, 1 + it % 60);
    const auto got = tk.encode(s);
    for (int32_t id : got) ASSERT_TRUE(id < 256 || id == tok::BOS) << id;
    // decode(encode(s)) is the NFC form of s, which encodes the same again.
    const std::string back = tk.decode(got);
    ASSERT_EQ(tk.encode(back), got);
    std::string nfc;
    if (text::is_nfc_or_normalize(s, nfc)) nfc = s;
    ASSERT_EQ(back, nfc);
  }
}

}  // namespace
}  // namespace emu35
