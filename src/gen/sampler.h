// Logits -> token: the upstream "differential" sampling (temperature, top-k with
// ties at the k-th value kept, top-p keeping the token that crosses p), then a
// draw from the softmax with a given uniform number. Also the CFG combination.
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "gen/task.h"

namespace emu35 {

// In place: divides finite logits by the temperature (when != 1), then sets to
// -inf everything below the k-th largest value (ties survive) and everything
// past the top-p nucleus. Masked (-inf) entries stay masked.
void apply_temperature_top_k_top_p(std::span<float> logits, const SamplingParams& p);

// The surviving (id, probability) pairs after the filters, in ascending id
// order; probabilities sum to 1. Empty when every logit is -inf.
std::vector<std::pair<int32_t, double>> sampling_distribution(std::span<const float> logits, const SamplingParams& p);

// Filters (a copy of) the logits and draws one id with u in [0, 1).
// Throws Error when nothing is left to sample.
int32_t sample_token(std::span<const float> logits, const SamplingParams& p, float u);

// log_softmax over the whole row, float32 (as torch).
void log_softmax(std::span<const float> x, std::span<float> out);

// guided = lu + g (lc - lu) on log-softmaxed rows (upstream "no_text" CFG).
void cfg_combine(std::span<const float> cond, std::span<const float> uncond, float g, std::span<float> out);

// Three streams ("no_text_img_cfg"): la + gi (lu - la) + g (lc - lu), where la is
// the fully unconditional stream (no text, no images).
void cfg_combine3(std::span<const float> cond, std::span<const float> uncond, std::span<const float> uncond_full,
                  float g, float gi, std::span<float> out);

}  // namespace emu35
