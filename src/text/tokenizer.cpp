#include "text/tokenizer.h"

#include <cstring>

#include "common/error.h"
#include "text/nfc.h"
#include "text/pre_split.h"
#include "text/utf8.h"
#include "text/vocab_files.h"

namespace emu35 {

namespace {
constexpr std::string_view kVisualPrefix = "<|visual token ";  // + 6 digits + "|>"
constexpr size_t kVisualLen = 15 + 6 + 2;
constexpr size_t kMaxNamedLen = 16;  // "<|image start|>" is the longest non-visual special
}  // namespace

Tokenizer Tokenizer::load(const std::filesystem::path& dir) {
  check(std::filesystem::is_directory(dir), "tokenizer: directory " + dir.string() + " not found");
  return load_files(dir / kTiktokenFile, dir / kVisionFile);
}

Tokenizer Tokenizer::load_files(const std::filesystem::path& tiktoken, const std::filesystem::path& vision_tokens) {
  Tokenizer t;
  t.bpe_ = text::BpeRanks(text::read_tiktoken_file(tiktoken), tiktoken.string());
  t.num_visual_ = text::read_vision_tokens_file(vision_tokens);

  // Literal text of every id from PAD on, in id order.
  std::vector<std::string> names = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  for (int32_t n = 0; n < tok::NUM_EXTRA; ++n) names.push_back("<|extra_" + std::to_string(n) + "|>");
  names.insert(names.end(), {"<|image token|>", "<|image start|>", "<|image end|>"});
  for (size_t i = 0; i < names.size(); ++i) t.named_specials_.emplace(names[i], tok::PAD + static_cast<int32_t>(i));
  t.special_arena_.reserve(names.size() * 14 + static_cast<size_t>(t.num_visual_) * kVisualLen);
  t.special_offsets_.reserve(names.size() + static_cast<size_t>(t.num_visual_) + 1);
  t.special_offsets_.push_back(0);
  for (auto& s : names) {
    t.special_arena_ += s;
    t.special_offsets_.push_back(static_cast<uint32_t>(t.special_arena_.size()));
  }
  // "<|visual token 000000|>", "...000001|>", ...: a decimal counter in place.
  std::string lit = "<|visual token 000000|>";
  for (int32_t c = 0; c < t.num_visual_; ++c) {
    t.special_arena_ += lit;
    t.special_offsets_.push_back(static_cast<uint32_t>(t.special_arena_.size()));
    for (size_t k = 20; lit[k]++ == '9'; --k) lit[k] = '0';
  }
  return t;
}

int32_t Tokenizer::match_special(std::string_view s, size_t* len) const {
  // Visual tokens: parsed by number, no lookup.
  if (s.size() >= kVisualLen && s[2] == 'v' && s.starts_with(kVisualPrefix) && s[21] == '|' && s[22] == '>') {
    int32_t code = 0;
    for (size_t k = 15; k < 21; ++k) {
      const char c = s[k];
      if (c < '0' || c > '9') return -1;
      code = code * 10 + (c - '0');
    }
    if (code >= num_visual_) return -1;
    *len = kVisualLen;
    return tok::BOV + code;
  }
  // Others: the text up to the first "|>" (no special name holds "|>").
  const size_t window = std::min(s.size(), kMaxNamedLen);
  for (size_t e = 3; e + 1 < window; ++e) {
    if (s[e] == '|' && s[e + 1] == '>') {
      auto it = named_specials_.find(s.substr(0, e + 2));
      if (it == named_specials_.end()) return -1;
      *len = e + 2;
      return it->second;
    }
  }
  return -1;
}

void Tokenizer::encode_ordinary(std::string_view text, std::vector<int32_t>& out) const {
  text::pre_split(text, [&](std::string_view piece) { bpe_.encode_piece(piece, out); });
}

void Tokenizer::encode_impl(std::string_view text, bool allow_special, std::vector<int32_t>& out) const {
  if (!loaded()) throw Error("tokenizer: encode on a tokenizer that was never loaded");
  if (text.size() > (size_t{1} << 30))
    throw Error("tokenizer: text of " + std::to_string(text.size()) + " bytes is too long (limit 1 GiB)");
  if (size_t bad = text::utf8_invalid_offset(text); bad != std::string_view::npos)
    throw Error("tokenizer: input text is not valid UTF-8 (ill-formed sequence at byte " + std::to_string(bad) + ")");
  std::string normalized;
  if (!text::is_nfc_or_normalize(text, normalized)) text = normalized;
  out.reserve(out.size() + text.size() / 3 + 8);
  if (!allow_special) {
    encode_ordinary(text, out);
    return;
  }
  // tiktoken: the leftmost special token splits the text; the regex runs on
  // each stretch between specials separately (so each stretch's end is an end
  // of input for the lookahead).
  size_t start = 0, scan = 0;
  for (;;) {
    const size_t p = text.find("<|", scan);
    if (p == std::string_view::npos) break;
    size_t len = 0;
    const int32_t id = match_special(text.substr(p), &len);
    if (id < 0) {
      scan = p + 1;
      continue;
    }
    encode_ordinary(text.substr(start, p - start), out);
    out.push_back(id);
    start = scan = p + len;
  }
  encode_ordinary(text.substr(start), out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  encode_impl(text, true, out);
  return out;
}

void Tokenizer::encode_append(std::string_view text, std::vector<int32_t>& out) const {
  encode_impl(text, true, out);
}

std::vector<int32_t> Tokenizer::encode_plain(std::string_view text) const {
  std::vector<int32_t> out;
  encode_impl(text, false, out);
  return out;
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  if (!loaded()) throw Error("tokenizer: token_bytes on a tokenizer that was never loaded");
  if (id >= 0 && id < static_cast<int32_t>(bpe_.size())) return bpe_.bytes(id);
  if (id >= tok::PAD && id < tok::BOV + num_visual_) {
    const size_t k = static_cast<size_t>(id - tok::PAD);
    return std::string_view(special_arena_).substr(special_offsets_[k], special_offsets_[k + 1] - special_offsets_[k]);
  }
  if (id < 0 || id >= tok::BOV + num_visual_)
    throw Error("tokenizer: token id " + std::to_string(id) + " out of range [0, " + std::to_string(vocab_size()) +
                ")");
  return {};  // unused id between the last BPE rank and PAD
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  if (!loaded()) throw Error("tokenizer: decode on a tokenizer that was never loaded");
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (int32_t id : ids) bytes += token_bytes(id);
  return text::utf8_replace_invalid(std::move(bytes));
}

std::optional<int32_t> Tokenizer::special_id(std::string_view literal) const {
  if (!literal.starts_with("<|")) return std::nullopt;
  size_t len = 0;
  int32_t id = match_special(literal, &len);
  if (id < 0 || len != literal.size()) return std::nullopt;
  return id;
}

int32_t Tokenizer::visual_id(int32_t code) const {
  if (code < 0 || code >= num_visual_)
    throw Error("tokenizer: visual code " + std::to_string(code) + " out of range [0, " +
                std::to_string(num_visual_) + ")");
  return tok::BOV + code;
}

}  // namespace emu35
