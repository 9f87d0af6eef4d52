// The fixed Emu3.5 token ids (pipeline doc §2.3). Upstream hard-codes them in
// the logits processor and the vLLM patches, so they never depend on the files:
// a tokenizer with fewer BPE ranks still puts its specials exactly here.
#pragma once
#include <cstdint>

namespace emu35::tok {

inline constexpr int32_t NUM_BPE_RANKS = 151643;  // ranks 0..151642 in emu3.tiktoken

inline constexpr int32_t PAD = 151643;       // <|endoftext|> (tiktoken eot; skip threshold)
inline constexpr int32_t IM_START = 151644;  // <|im_start|>, unused upstream
inline constexpr int32_t IM_END = 151645;    // <|im_end|>, unused upstream
inline constexpr int32_t EXTRA0 = 151646;    // <|extra_N|> = EXTRA0 + N
inline constexpr int32_t NUM_EXTRA = 205;    // N = 0..204

inline constexpr int32_t BOC = 151696;   // <|extra_50|>  begin per-image CoT
inline constexpr int32_t EOC = 151697;   // <|extra_51|>  end per-image CoT
inline constexpr int32_t BOG = 151706;   // <|extra_60|>  begin global CoT
inline constexpr int32_t EOG = 151707;   // <|extra_61|>  end global CoT
inline constexpr int32_t BSS = 151746;   // <|extra_100|> begin assistant segment
inline constexpr int32_t ESS = 151747;   // <|extra_101|> end assistant segment
inline constexpr int32_t EOL = 151846;   // <|extra_200|> end of an image row
inline constexpr int32_t EOFT = 151847;  // <|extra_201|> "EOF" upstream (name avoids the C macro)
inline constexpr int32_t TMS = 151848;   // <|extra_202|>
inline constexpr int32_t BOS = 151849;   // <|extra_203|>
inline constexpr int32_t EOS = 151850;   // <|extra_204|>
inline constexpr int32_t IMG = 151851;   // <|image token|>: ends the "H*W" header
inline constexpr int32_t BOI = 151852;   // <|image start|>
inline constexpr int32_t EOI = 151853;   // <|image end|>
inline constexpr int32_t BOV = 151854;   // <|visual token 000000|>

inline constexpr int32_t NUM_VISUAL = 131072;         // codes 0..131071 in the real file
inline constexpr int32_t VOCAB = BOV + NUM_VISUAL;    // 282926

inline constexpr int32_t DIGIT0 = 15;  // '0'..'9' are single tokens 15..24
inline constexpr int32_t STAR = 9;     // '*' in "H*W"

inline constexpr int32_t extra_id(int32_t n) { return EXTRA0 + n; }
inline constexpr int32_t digit_id(int32_t d) { return DIGIT0 + d; }

// Visual token c <-> id BOV + c. is_visual checks the full upstream range; a
// tokenizer with a shorter vision file has a smaller valid range
// (Tokenizer::num_visual_tokens()).
inline constexpr bool is_visual(int32_t id) { return id >= BOV && id < BOV + NUM_VISUAL; }
inline constexpr int32_t visual_id(int32_t code) { return BOV + code; }
inline constexpr int32_t visual_code(int32_t id) { return id - BOV; }

static_assert(VOCAB == 282926);
static_assert(extra_id(203) == BOS && extra_id(200) == EOL && extra_id(100) == BSS);
static_assert(EXTRA0 + NUM_EXTRA == IMG);

}  // namespace emu35::tok
