// The exact Emu3.5 text tokenizer (upstream Emu3Tokenizer over tiktoken):
// NFC, special tokens recognised anywhere, the upstream pre-split regex,
// byte-level BPE; decoding with invalid UTF-8 replaced by U+FFFD.
//
// Id layout (pipeline doc §2.3): BPE ranks from emu3.tiktoken at 0..n-1, then
// the specials at their fixed ids from tok::PAD = 151643 on, whatever n is
// (a small test file of 256 byte ranks leaves ids n..151642 unused), then the
// vision-token file from tok::IMG = 151851 on.
//
// Immutable once loaded: every const method is safe to call from many threads.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"  // the API throws emu35::Error
#include "text/bpe.h"
#include "text/special_tokens.h"

namespace emu35 {

class Tokenizer {
 public:
  static constexpr const char* kTiktokenFile = "emu3.tiktoken";
  static constexpr const char* kVisionFile = "emu3_vision_tokens.txt";

  // Reads emu3.tiktoken and emu3_vision_tokens.txt from `dir` (normally the
  // model directory). Throws emu35::Error naming the file and line at fault.
  static Tokenizer load(const std::filesystem::path& dir);
  static Tokenizer load_files(const std::filesystem::path& tiktoken, const std::filesystem::path& vision_tokens);

  // Upstream encode: NFC, then every special token (<|extra_N|>, <|visual token
  // NNNNNN|>, ...) anywhere in the text becomes its id. Throws on invalid UTF-8.
  std::vector<int32_t> encode(std::string_view text) const;
  void encode_append(std::string_view text, std::vector<int32_t>& out) const;
  // The same without special-token recognition ("<|...|>" is plain text).
  std::vector<int32_t> encode_plain(std::string_view text) const;

  // Bytes of all ids concatenated (specials as their literal text), then
  // UTF-8-decoded with errors="replace". Throws on an id outside [0, vocab_size()).
  // Unused ids (between the last BPE rank and tok::PAD) decode to nothing.
  std::string decode(std::span<const int32_t> ids) const;

  // False for a default-constructed Tokenizer (encode / decode then throw).
  bool loaded() const { return bpe_.size() > 0; }
  size_t vocab_size() const { return static_cast<size_t>(tok::BOV + num_visual_); }
  size_t num_bpe_ranks() const { return bpe_.size(); }
  int32_t num_visual_tokens() const { return num_visual_; }
  bool is_valid_id(int32_t id) const {  // in range and not an unused gap id
    return id >= 0 && (id < static_cast<int32_t>(bpe_.size()) || (id >= tok::PAD && id < tok::BOV + num_visual_));
  }
  bool is_special(int32_t id) const { return id >= tok::PAD; }

  // A token's raw bytes (a BPE token may be part of a UTF-8 character; a
  // special is its literal text; an unused id is empty). Throws when out of range.
  std::string_view token_bytes(int32_t id) const;
  // Id of a special token's literal text ("<|extra_203|>" -> 151849), if any.
  std::optional<int32_t> special_id(std::string_view literal) const;

  // Visual token code <-> id, by arithmetic. visual_id throws when `code` is
  // outside this tokenizer's vision file; visual_code gives -1 for other ids.
  int32_t visual_id(int32_t code) const;
  int32_t visual_code(int32_t id) const {
    return id >= tok::BOV && id < tok::BOV + num_visual_ ? id - tok::BOV : -1;
  }

  // The special ids by their upstream names (model_utils.py / logits_processor.py).
  static constexpr int32_t pad() { return tok::PAD; }
  static constexpr int32_t bos() { return tok::BOS; }
  static constexpr int32_t eos() { return tok::EOS; }
  static constexpr int32_t img() { return tok::IMG; }
  static constexpr int32_t boi() { return tok::BOI; }
  static constexpr int32_t eoi() { return tok::EOI; }
  static constexpr int32_t eol() { return tok::EOL; }
  static constexpr int32_t eof() { return tok::EOFT; }
  static constexpr int32_t tms() { return tok::TMS; }
  static constexpr int32_t bov() { return tok::BOV; }
  static constexpr int32_t bss() { return tok::BSS; }
  static constexpr int32_t ess() { return tok::ESS; }
  static constexpr int32_t boc() { return tok::BOC; }
  static constexpr int32_t eoc() { return tok::EOC; }
  static constexpr int32_t bog() { return tok::BOG; }
  static constexpr int32_t eog() { return tok::EOG; }

 private:
  struct StrHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void encode_ordinary(std::string_view text, std::vector<int32_t>& out) const;
  void encode_impl(std::string_view text, bool allow_special, std::vector<int32_t>& out) const;
  // Id of the special token that starts at s (s begins with "<|"), or -1.
  int32_t match_special(std::string_view s, size_t* len) const;

  text::BpeRanks bpe_;
  int32_t num_visual_ = 0;
  std::string special_arena_;              // literal text of ids tok::PAD.., back to back
  std::vector<uint32_t> special_offsets_;  // id - PAD -> range in special_arena_
  std::unordered_map<std::string, int32_t, StrHash, std::equal_to<>> named_specials_;  // all but visual
};

}  // namespace emu35
