// The upstream prompt templates (shared/docs/emu35-pipeline.md 1.5 and 3) and
// the text form of a reference image.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gen/task.h"

namespace emu35 {

// `<|image start|>H*W<|image token|>` + rows of `<|visual token NNNNNN|>`
// joined by `<|extra_200|>` + `<|image end|>`. codes: h*w row-major.
std::string image_token_string(int h, int w, const std::vector<int32_t>& codes);

struct PromptTexts {
  std::string cond;         // conditional prompt
  std::string uncond;       // unconditional prompt ("no_text": keeps the images)
  std::string uncond_full;  // fully unconditional (no text, no images), for image CFG
};

struct PromptOptions {
  bool start_image = false;  // append <|image start|> so the answer begins with a picture
};

// The official template for `task`: x2i puts the images before the question,
// the other tasks after it; howto adds its interleaved-output sentence.
PromptTexts build_prompts(Task task, const std::string& question, const std::vector<std::string>& image_strings,
                          const PromptOptions& opt = {});

// --raw-prompt: the text is the conditional prompt as is; the unconditional
// prompts are the standard ones for the given images.
PromptTexts build_raw_prompts(const std::string& raw, const std::vector<std::string>& image_strings,
                              const PromptOptions& opt = {});

// Prepends BOS when the ids do not start with it (upstream does this to the conditional ids).
void ensure_bos(std::vector<int32_t>& ids);

}  // namespace emu35
