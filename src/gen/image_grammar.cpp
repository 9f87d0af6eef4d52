#include "gen/image_grammar.h"

#include <string>

#include "common/error.h"
#include "text/special_tokens.h"

namespace emu35 {

namespace {
// index of the last occurrence of id, or -1
int64_t last_index(std::span<const int32_t> ids, int32_t id) {
  for (int64_t i = static_cast<int64_t>(ids.size()) - 1; i >= 0; --i)
    if (ids[static_cast<size_t>(i)] == id) return i;
  return -1;
}
}  // namespace

std::optional<TokenSize> parse_image_header(std::span<const int32_t> ids) {
  int64_t boi = last_index(ids, tok::BOI), img = last_index(ids, tok::IMG);
  if (boi < 0 || img < 0 || img <= boi) return std::nullopt;
  int vals[2] = {0, 0};
  int part = 0, digits[2] = {0, 0};
  for (int64_t i = boi + 1; i < img; ++i) {
    int32_t t = ids[static_cast<size_t>(i)];
    if (t == tok::STAR && part == 0) {
      part = 1;
    } else if (t >= tok::DIGIT0 && t <= tok::DIGIT0 + 9 && digits[part] < 4) {
      vals[part] = vals[part] * 10 + (t - tok::DIGIT0);
      ++digits[part];
    } else {
      return std::nullopt;
    }
  }
  if (part != 1 || !digits[0] || !digits[1] || vals[0] < 1 || vals[1] < 1) return std::nullopt;
  return TokenSize{vals[0], vals[1]};
}

ImageGrammar::ImageGrammar(std::optional<TokenSize> target, std::span<const int32_t> uncond_prompt,
                           bool force_same_image_size)
    : force_same_(force_same_image_size) {
  if (last_index(uncond_prompt, tok::IMG) >= 0) {
    if (auto s = parse_image_header(uncond_prompt)) set_size(s->h, s->w);
    first_in_image_ = false;
  }
  if (target) set_size(target->h, target->w);
}

void ImageGrammar::set_size(int h, int w) {
  known_ = true;
  h_ = h;
  w_ = w;
  hw_tokens_.clear();
  for (char c : std::to_string(h) + "*" + std::to_string(w))
    hw_tokens_.push_back(c == '*' ? tok::STAR : tok::digit_id(c - '0'));
}

StepPlan ImageGrammar::next(std::span<const int32_t> seq) {
  check(!seq.empty(), "ImageGrammar: empty sequence");
  const int32_t last = seq.back();
  StepPlan plan;
  if (last == tok::BOI) {
    in_image_ = true;
  } else if (last == tok::EOI) {
    // Leaving a picture: the unconditional stream still takes the EOI (its
    // logits are not used), exactly as upstream's exit_image does.
    if (in_visual_) ++progress_.images_done;
    in_image_ = in_visual_ = false;
    plan.feed_uncond = true;
  }
  progress_.in_image = in_image_;
  if (!in_image_) {
    plan.kind = StepPlan::Kind::Text;
    return plan;
  }
  plan.feed_uncond = true;
  const int64_t len = static_cast<int64_t>(seq.size());
  if (!in_visual_ && last != tok::IMG) {
    // The "H*W" header; i = 1 for the first token after BOI.
    const int64_t i = len - last_index(seq, tok::BOI);
    if (known_) {
      plan.kind = StepPlan::Kind::Forced;
      plan.forced = i <= static_cast<int64_t>(hw_tokens_.size()) ? hw_tokens_[static_cast<size_t>(i - 1)] : tok::IMG;
    } else if (i == 1 || i == 4) {
      plan.kind = StepPlan::Kind::Digits;
      plan.lo = tok::digit_id(1);
      plan.hi = tok::digit_id(9);
    } else if (i == 2 || i == 5) {
      plan.kind = StepPlan::Kind::Digits;
      plan.lo = tok::digit_id(0);
      plan.hi = tok::digit_id(9);
    } else {
      plan.kind = StepPlan::Kind::Forced;
      plan.forced = i == 3 ? tok::STAR : tok::IMG;
    }
    return plan;
  }
  if (!in_visual_ && last == tok::IMG) {
    in_visual_ = true;
    ++image_nums_;
    if ((first_in_image_ || !force_same_) && !known_) {
      auto s = parse_image_header(seq);
      if (!s) throw Error("generation: could not parse the image size header");
      set_size(s->h, s->w);
    }
    first_in_image_ = false;
    progress_.rows_total = h_;
    progress_.rows_done = 0;
    plan.kind = StepPlan::Kind::Visual;
    return plan;
  }
  // Inside the visual area: k is the offset (from IMG) of the token being generated.
  const int64_t k = len - last_index(seq, tok::IMG);
  progress_.rows_total = h_;
  progress_.rows_done = static_cast<int>((k - 1) / (w_ + 1));
  if (k == static_cast<int64_t>(h_) * (w_ + 1)) {
    plan.kind = StepPlan::Kind::Forced;
    plan.forced = tok::EOI;
    progress_.rows_done = h_;
  } else if (k % (w_ + 1) == 0) {
    plan.kind = StepPlan::Kind::Forced;
    plan.forced = tok::EOL;
  } else {
    plan.kind = StepPlan::Kind::Visual;
  }
  return plan;
}

}  // namespace emu35
