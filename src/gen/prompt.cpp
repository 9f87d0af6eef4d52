#include "gen/prompt.h"

#include "text/special_tokens.h"

namespace emu35 {

namespace {
const char* kBos = "<|extra_203|>";
const char* kAssistant = " ASSISTANT: <|extra_100|>";

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += x;
  return s;
}

std::string unconditional(const std::string& images) {
  // Two spaces after "USER:" when there is no image: upstream's literal string.
  return std::string(kBos) + "You are a helpful assistant. USER: " + images + kAssistant;
}
}  // namespace

std::string image_token_string(int h, int w, const std::vector<int32_t>& codes) {
  std::string s;
  s.reserve(static_cast<size_t>(h) * w * 24 + h * 13 + 48);
  s += "<|image start|>" + std::to_string(h) + "*" + std::to_string(w) + "<|image token|>";
  char buf[32];
  for (int r = 0; r < h; ++r) {
    if (r) s += "<|extra_200|>";
    for (int c = 0; c < w; ++c) {
      int n = std::snprintf(buf, sizeof buf, "<|visual token %06d|>", codes[static_cast<size_t>(r) * w + c]);
      s.append(buf, static_cast<size_t>(n));
    }
  }
  s += "<|image end|>";
  return s;
}

PromptTexts build_prompts(Task task, const std::string& question, const std::vector<std::string>& image_strings,
                          const PromptOptions& opt) {
  const std::string images = join(image_strings);
  std::string system = std::string(kBos) + "You are a helpful assistant for " + std::string(task_name(task)) + " task.";
  if (task == Task::HOWTO) system += " Please generate a response with interleaved text and images.";
  std::string user = task == Task::X2I ? images + question : question + images;
  PromptTexts p;
  p.cond = system + " USER: " + user + kAssistant;
  p.uncond = unconditional(images);
  p.uncond_full = unconditional("");
  if (opt.start_image) p.cond += "<|image start|>";
  return p;
}

PromptTexts build_raw_prompts(const std::string& raw, const std::vector<std::string>& image_strings,
                              const PromptOptions& opt) {
  PromptTexts p;
  p.cond = raw;
  p.uncond = unconditional(join(image_strings));
  p.uncond_full = unconditional("");
  if (opt.start_image) p.cond += "<|image start|>";
  return p;
}

void ensure_bos(std::vector<int32_t>& ids) {
  if (ids.empty() || ids.front() != tok::BOS) ids.insert(ids.begin(), tok::BOS);
}

}  // namespace emu35
