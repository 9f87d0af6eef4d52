// BPE merging: tiktoken's rules on a hand-made rank table, and the two merge
// loops (quadratic for short pieces, heap for long ones) agreeing on the real one.
#include <gtest/gtest.h>

#include <random>

#include "common/error.h"
#include "text/bpe.h"
#include "tokenizer_test_util.h"

namespace emu35::text {
namespace {

BpeRanks byte_ranks_plus(const std::vector<std::string>& extra) {
  std::vector<std::string> t;
  for (int c = 0; c < 256; ++c) t.push_back(std::string(1, static_cast<char>(c)));
  t.insert(t.end(), extra.begin(), extra.end());
  return BpeRanks(t, "test");
}

std::vector<int32_t> enc(const BpeRanks& b, std::string_view s) {
  std::vector<int32_t> out;
  b.encode_piece(s, out);
  return out;
}

TEST(Bpe, LowestRankFirstLeftmostOnTies) {
  // "aa" = 256, "aaaa" = 257, "ab" = 258, "bc" = 259 (lower than "abc" paths below)
  const BpeRanks b = byte_ranks_plus({"aa", "aaaa", "ab", "bc"});
  EXPECT_EQ(enc(b, "aaa"), (std::vector<int32_t>{256, 'a'}));  // leftmost "aa" wins the tie
  EXPECT_EQ(enc(b, "aaaaa"), (std::vector<int32_t>{257, 'a'}));
  EXPECT_EQ(enc(b, "abc"), (std::vector<int32_t>{258, 'c'}));  // "ab" (258) before "bc" (259)
  EXPECT_EQ(enc(b, "xbc"), (std::vector<int32_t>{'x', 259}));
  EXPECT_EQ(enc(b, "z"), (std::vector<int32_t>{'z'}));
}

TEST(Bpe, WholePieceShortcut) {
  // "abc" has a rank but no merge path reaches it: tiktoken still returns it
  // for the piece "abc" (whole-piece lookup first), but not inside "abcd".
  const BpeRanks b = byte_ranks_plus({"abc"});
  EXPECT_EQ(enc(b, "abc"), (std::vector<int32_t>{256}));
  EXPECT_EQ(enc(b, "abcd"), (std::vector<int32_t>{'a', 'b', 'c', 'd'}));
}

TEST(Bpe, RejectsDuplicatesAndMissingBytes) {
  EXPECT_THROW(byte_ranks_plus({"ab", "ab"}), emu35::Error);
  std::vector<std::string> t;
  for (int c = 0; c < 255; ++c) t.push_back(std::string(1, static_cast<char>(c)));
  try {
    BpeRanks b(t, "some.tiktoken");
    FAIL() << "no throw";
  } catch (const emu35::Error& e) {
    EXPECT_NE(std::string(e.what()).find("some.tiktoken"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("0xFF"), std::string::npos) << e.what();
  }
}

// Random pieces built from real text fragments and raw bytes.
std::string random_piece(std::mt19937& rng, size_t max_len) {
  static const char* frags[] = {"the", " in", "ing", "tion", "==", "  ", "\xE4\xB8\xAD", "\xE6\x96\x87",
                                "\xF0\x9F\x98\x80", "ab", "--", "**", "0", "\xD0\xBF\xD1\x80", "er", "."};
  std::string s;
  const size_t len = 1 + rng() % max_len;
  while (s.size() < len) {
    if (rng() % 4 == 0)
      s.push_back(static_cast<char>(rng() % 256));
    else
      s += frags[rng() % std::size(frags)];
  }
  s.resize(len);
  return s;
}

TEST(Bpe, QuadraticAndHeapAgreeOnRealRanks) {
  const Tokenizer& tk = test::fixture_tokenizer();
  // Rebuild just the BPE part through the public surface: encode_piece via a
  // plain-text round trip would mix in pre-splitting, so use BpeRanks directly.
  std::vector<std::string> toks;
  for (int32_t r = 0; r < static_cast<int32_t>(tk.num_bpe_ranks()); ++r) toks.emplace_back(tk.token_bytes(r));
  const BpeRanks b(std::move(toks), "emu3.tiktoken");
  std::mt19937 rng(1234);
  for (int it = 0; it < 3000; ++it) {
    const std::string piece = random_piece(rng, it % 10 == 0 ? 600 : 120);
    std::vector<int32_t> q, h;
    b.merge_quadratic(piece, q);
    b.merge_heap(piece, h);
    ASSERT_EQ(q, h) << "piece size " << piece.size() << " iteration " << it;
    std::string back;
    for (int32_t id : q) back += b.bytes(id);
    ASSERT_EQ(back, piece);
  }
  // Long runs of one symbol (the heap path's reason to exist) still round-trip.
  for (const std::string unit : {"=", " ", "ab", "\xE4\xB8\xAD"}) {
    std::string piece;
    for (int i = 0; i < 3000; ++i) piece += unit;
    std::vector<int32_t> out;
    b.encode_piece(piece, out);
    std::vector<int32_t> q;
    b.merge_quadratic(piece, q);
    EXPECT_EQ(out, q) << unit;
    std::string back;
    for (int32_t id : out) back += b.bytes(id);
    EXPECT_EQ(back, piece);
  }
}

}  // namespace
}  // namespace emu35::text
