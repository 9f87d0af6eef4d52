// Tasks (t2i, x2i, howto, story, explore, vla), their upstream default settings,
// per-modality sampling parameters, and the aspect-ratio presets.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace emu35 {

enum class Task { T2I, X2I, HOWTO, STORY, EXPLORE, VLA };

Task parse_task(std::string_view name);  // lower-case names; Error lists the valid ones
std::string_view task_name(Task t);

struct SamplingParams {
  int top_k = 1024;          // <= 0 or >= vocab: no top-k
  float top_p = 1.0f;        // >= 1: no top-p
  float temperature = 1.0f;  // 1: unchanged
};

// The upstream configs' defaults for a task (shared/docs/emu35-pipeline.md 1.4, 3.4).
struct TaskDefaults {
  float guidance_scale;
  SamplingParams text;
  SamplingParams image;
  int max_new_tokens;
  int64_t image_area;
};
TaskDefaults task_defaults(Task t);

// Picture size in tokens: rows x columns (1 token = 16x16 pixels).
struct TokenSize {
  int h = 0, w = 0;
  bool operator==(const TokenSize&) const = default;
};

// Official presets, keys width:height, token grids for a 1048576-pixel area
// (1:1 = 64x64, 4:3 = 55x73, ...). Other areas scale both sides by
// sqrt(area / 1048576), rounded, at least 1. "auto" gives nullopt (the model
// chooses, or the last reference image fixes it).
std::optional<TokenSize> aspect_ratio_size(std::string_view key, int64_t image_area);
const std::vector<std::string>& aspect_ratio_keys();  // without "auto"

// "64x64" / "64*64" -> {64, 64}; Error on anything else or sides outside 1..99
// (the header grammar allows two digits at most when sampled, but forced sizes
// may use any digit count; we cap at 256 tokens a side).
TokenSize parse_token_size(std::string_view text);

// Tokens an image of this size takes: BOI + "H*W" + IMG + H*W + (H-1) EOL + EOI.
int image_token_count(TokenSize s);

}  // namespace emu35
