// The per-request generation state machine: a port of upstream's HF logits
// processor (shared/docs/emu35-pipeline.md 3.2-3.5). It decides, from the
// sequence so far, what the next step is: free text, a forced token (size
// header, row end, image end), sampled size digits, or a visual token drawn
// with classifier-free guidance. It also says when the unconditional stream(s)
// must consume the last token.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "gen/task.h"

namespace emu35 {

struct StepPlan {
  enum class Kind { Text, Forced, Digits, Visual };
  Kind kind = Kind::Text;
  int32_t forced = -1;       // Forced: the only allowed id
  int32_t lo = 0, hi = 0;    // Digits: allowed ids lo..hi (sampled from the raw conditional logits)
  bool feed_uncond = false;  // the unconditional stream(s) append the last token this step
};

struct ImageProgress {
  bool in_image = false;
  int rows_done = 0, rows_total = 0;  // of the picture being drawn
  int images_done = 0;
};

class ImageGrammar {
 public:
  // target: a forced output size (t2i presets / --target-size), or nullopt.
  // uncond_prompt: when it holds an image header, its last H*W fixes the size.
  ImageGrammar(std::optional<TokenSize> target, std::span<const int32_t> uncond_prompt, bool force_same_image_size);

  // `seq` is the whole conditional sequence so far (prompt + generated).
  StepPlan next(std::span<const int32_t> seq);

  ImageProgress progress() const { return progress_; }
  std::optional<TokenSize> size() const { return known_ ? std::optional<TokenSize>(TokenSize{h_, w_}) : std::nullopt; }

 private:
  bool in_image_ = false, in_visual_ = false;
  bool known_ = false;
  int h_ = 0, w_ = 0;
  bool first_in_image_ = true;
  bool force_same_ = true;
  int image_nums_ = 0;
  std::vector<int32_t> hw_tokens_;  // "H*W" as ids
  ImageProgress progress_;
  void set_size(int h, int w);
};

// Parses H and W from the ids between the last BOI and the last IMG; nullopt
// when absent or malformed.
std::optional<TokenSize> parse_image_header(std::span<const int32_t> ids);

}  // namespace emu35
