// Parity with the upstream Python tokenizer: every case in
// fixtures/reference/tokenizer_cases.json, the special / digit ids, and the
// examples of pipeline doc §2.3.
#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

namespace emu35 {
namespace {

using test::fixture_tokenizer;
using test::tokenizer_cases;

TEST(TokenizerParity, VocabularyLayout) {
  const Tokenizer& tk = fixture_tokenizer();
  EXPECT_EQ(tk.vocab_size(), tokenizer_cases()["vocab_size"].get<size_t>());
  EXPECT_EQ(tk.vocab_size(), static_cast<size_t>(tok::VOCAB));
  EXPECT_EQ(tk.num_bpe_ranks(), static_cast<size_t>(tok::NUM_BPE_RANKS));
  EXPECT_EQ(tk.num_visual_tokens(), tok::NUM_VISUAL);
}

TEST(TokenizerParity, EveryEncodeCase) {
  const Tokenizer& tk = fixture_tokenizer();
  const auto& cases = tokenizer_cases()["encode"];
  ASSERT_GE(cases.size(), 60u);
  for (const auto& c : cases) {
    const std::string text = c["text"].get<std::string>();
    const auto want = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tk.encode(text), want) << "text: " << text;
  }
}

TEST(TokenizerParity, EveryDecodeCase) {
  const Tokenizer& tk = fixture_tokenizer();
  const auto& cases = tokenizer_cases()["decode"];
  ASSERT_GE(cases.size(), 1u);
  for (const auto& c : cases) {
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tk.decode(ids), c["text"].get<std::string>()) << "ids: " << c["ids"].dump();
  }
}

TEST(TokenizerParity, EncodeCasesDecodeBackToNfcText) {
  // Every id sequence upstream produced decodes to the (NFC) text it came from.
  const Tokenizer& tk = fixture_tokenizer();
  for (const auto& c : tokenizer_cases()["encode"]) {
    const std::string text = c["text"].get<std::string>();
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    const std::string back = tk.decode(ids);
    EXPECT_EQ(tk.encode(back), ids) << "text: " << text;
  }
}

TEST(TokenizerParity, SpecialIdsMatchFixture) {
  const Tokenizer& tk = fixture_tokenizer();
  const auto& s = tokenizer_cases()["special_ids"];
  const std::pair<const char*, int32_t> named[] = {
      {"BOS", Tokenizer::bos()}, {"EOS", Tokenizer::eos()}, {"PAD", Tokenizer::pad()}, {"EOL", Tokenizer::eol()},
      {"EOF", Tokenizer::eof()}, {"TMS", Tokenizer::tms()}, {"IMG", Tokenizer::img()}, {"BOI", Tokenizer::boi()},
      {"EOI", Tokenizer::eoi()}, {"BSS", Tokenizer::bss()}, {"ESS", Tokenizer::ess()}, {"BOG", Tokenizer::bog()},
      {"EOG", Tokenizer::eog()}, {"BOC", Tokenizer::boc()}, {"EOC", Tokenizer::eoc()}, {"BOV", Tokenizer::bov()}};
  EXPECT_EQ(s.size(), std::size(named));
  for (auto [name, id] : named) {
    ASSERT_TRUE(s.contains(name)) << name;
    EXPECT_EQ(id, s[name].get<int32_t>()) << name;
  }
  // The literal text of each named special encodes to its id and back.
  for (auto [name, id] : named) {
    const std::string lit(tk.token_bytes(id));
    EXPECT_EQ(tk.encode(lit), std::vector<int32_t>{id}) << name << " " << lit;
    EXPECT_EQ(tk.special_id(lit), id) << name;
  }
  EXPECT_EQ(tk.token_bytes(tok::BOS), "<|extra_203|>");
  EXPECT_EQ(tk.token_bytes(tok::IMG), "<|image token|>");
  EXPECT_EQ(tk.token_bytes(tok::BOV), "<|visual token 000000|>");
  EXPECT_EQ(tk.token_bytes(tok::VOCAB - 1), "<|visual token 131071|>");
}

TEST(TokenizerParity, DigitIdsMatchFixture) {
  const Tokenizer& tk = fixture_tokenizer();
  for (const auto& [ch, ids] : tokenizer_cases()["digit_ids"].items()) {
    const auto want = ids.get<std::vector<int32_t>>();
    EXPECT_EQ(tk.encode(ch), want) << ch;
    if (ch == "*")
      EXPECT_EQ(want, std::vector<int32_t>{tok::STAR});
    else
      EXPECT_EQ(want, std::vector<int32_t>{tok::digit_id(ch[0] - '0')});
  }
}

TEST(TokenizerParity, PipelineDocExamples) {
  const Tokenizer& tk = fixture_tokenizer();
  EXPECT_EQ(tk.encode("64*64"), (std::vector<int32_t>{21, 19, 9, 21, 19}));
  EXPECT_EQ(tk.encode("55*73"), (std::vector<int32_t>{20, 20, 9, 22, 18}));
  EXPECT_EQ(tk.encode("<|extra_203|>You are a helpful assistant. USER:  ASSISTANT: <|extra_100|>"),
            (std::vector<int32_t>{151849, 2610, 525, 264, 10950, 17847, 13, 13872, 25, 220, 35560, 3846, 2821, 25,
                                  220, 151746}));
}

TEST(TokenizerParity, VisualIdRoundTrip) {
  const Tokenizer& tk = fixture_tokenizer();
  for (int32_t code : {0, 1, 42, 65535, 131071}) {
    const int32_t id = tk.visual_id(code);
    EXPECT_EQ(id, tok::visual_id(code));
    EXPECT_TRUE(tok::is_visual(id));
    EXPECT_EQ(tk.visual_code(id), code);
    EXPECT_EQ(tok::visual_code(id), code);
    char lit[32];
    std::snprintf(lit, sizeof lit, "<|visual token %06d|>", code);
    EXPECT_EQ(tk.token_bytes(id), lit);
    EXPECT_EQ(tk.encode(lit), std::vector<int32_t>{id});
  }
  EXPECT_EQ(tk.visual_code(tok::BOV - 1), -1);
  EXPECT_EQ(tk.visual_code(tok::VOCAB), -1);
  EXPECT_FALSE(tok::is_visual(tok::EOI));
  EXPECT_THROW(tk.visual_id(-1), Error);
  EXPECT_THROW(tk.visual_id(tok::NUM_VISUAL), Error);
}

TEST(TokenizerParity, SpecialsInsideText) {
  const Tokenizer& tk = fixture_tokenizer();
  // Not specials: wrong digit count, out of range, leading zero, unknown name.
  for (const char* s : {"<|visual token 00001|>", "<|visual token 0000001|>", "<|visual token 131072|>",
                        "<|extra_05|>", "<|extra_205|>", "<|image|>", "<||>", "<|", "|>"}) {
    for (int32_t id : tk.encode(s)) EXPECT_LT(id, tok::PAD) << s;
    EXPECT_FALSE(tk.special_id(s).has_value()) << s;
  }
  // A special right after a failed "<|" is still found; so is one glued to text.
  const auto ids = tk.encode("<|<|extra_5|>x<|image end|>");
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids[ids.size() - 1], tok::EOI);
  EXPECT_EQ(ids[ids.size() - 3], tok::extra_id(5));
  // encode_plain never produces specials.
  for (int32_t id : tk.encode_plain("<|extra_203|><|visual token 000001|>")) EXPECT_LT(id, tok::PAD);
  EXPECT_EQ(tk.decode(tk.encode_plain("<|extra_203|>")), "<|extra_203|>");
}

TEST(TokenizerParity, ImagePromptEncodesToGrid) {
  // A 64x64 image string: header, 64 rows of 64 visual tokens + EOL, EOI.
  const Tokenizer& tk = fixture_tokenizer();
  std::string s = "<|image start|>64*64<|image token|>";
  std::vector<int32_t> want = {tok::BOI, 21, 19, 9, 21, 19, tok::IMG};
  char lit[32];
  for (int r = 0; r < 64; ++r) {
    for (int c = 0; c < 64; ++c) {
      const int code = (r * 2053 + c * 7919) % tok::NUM_VISUAL;
      std::snprintf(lit, sizeof lit, "<|visual token %06d|>", code);
      s += lit;
      want.push_back(tok::visual_id(code));
    }
    s += "<|extra_200|>";
    want.push_back(tok::EOL);
  }
  s += "<|image end|>";
  want.push_back(tok::EOI);
  EXPECT_EQ(tk.encode(s), want);
  EXPECT_EQ(tk.decode(want), s);
}

TEST(TokenizerParity, NfcBeforeSplitting) {
  const Tokenizer& tk = fixture_tokenizer();
  // e + COMBINING ACUTE encodes like the precomposed U+00E9.
  EXPECT_EQ(tk.encode("caf\x65\xCC\x81"), tk.encode("caf\xC3\xA9"));
  // ANGSTROM SIGN (U+212B) normalises to U+00C5.
  EXPECT_EQ(tk.encode("\xE2\x84\xAB"), tk.encode("\xC3\x85"));
}

TEST(TokenizerParity, NfcComesBeforeSpecialTokens) {
  // Upstream normalises the whole text first: '>' + U+0338 COMBINING LONG
  // SOLIDUS OVERLAY composes to U+226F, so the special token is gone.
  const Tokenizer& tk = fixture_tokenizer();
  const auto ids = tk.encode("<|extra_5|>\xCC\xB8");
  for (int32_t id : ids) EXPECT_LT(id, tok::PAD);
  EXPECT_EQ(tk.decode(ids), "<|extra_5|\xE2\x89\xAF");
}

TEST(TokenizerParity, UnloadedTokenizerThrows) {
  const Tokenizer empty;
  EXPECT_FALSE(empty.loaded());
  EXPECT_THROW(empty.encode("hi"), Error);
  const int32_t ids[] = {1};
  EXPECT_THROW(empty.decode(ids), Error);
  EXPECT_THROW(empty.token_bytes(tok::PAD), Error);
  EXPECT_TRUE(fixture_tokenizer().loaded());
}

TEST(TokenizerParity, BadInputAndIds) {
  const Tokenizer& tk = fixture_tokenizer();
  EXPECT_THROW(tk.encode("abc\xFF"), Error);
  EXPECT_THROW(tk.encode("\xED\xA0\x80"), Error);  // a UTF-8-encoded surrogate
  try {
    tk.encode("ok\xC3");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
  }
  const int32_t bad[] = {-1, tok::VOCAB};
  for (int32_t id : bad) {
    EXPECT_THROW(tk.decode(std::span<const int32_t>(&id, 1)), Error) << id;
    EXPECT_THROW(tk.token_bytes(id), Error) << id;
    EXPECT_FALSE(tk.is_valid_id(id));
  }
  EXPECT_TRUE(tk.is_valid_id(0));
  EXPECT_TRUE(tk.is_valid_id(tok::VOCAB - 1));
}

}  // namespace
}  // namespace emu35
