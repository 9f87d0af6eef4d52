#include "gen/task.h"

#include <cmath>
#include <map>

#include "common/error.h"

namespace emu35 {

namespace {
struct TaskInfo {
  Task task;
  const char* name;
};
constexpr TaskInfo kTasks[] = {{Task::T2I, "t2i"},     {Task::X2I, "x2i"},         {Task::HOWTO, "howto"},
                               {Task::STORY, "story"}, {Task::EXPLORE, "explore"}, {Task::VLA, "vla"}};

const std::vector<std::pair<std::string, TokenSize>>& presets() {
  static const std::vector<std::pair<std::string, TokenSize>> p = {
      {"4:3", {55, 73}}, {"21:9", {41, 97}}, {"16:9", {47, 85}}, {"3:2", {52, 78}},
      {"1:1", {64, 64}}, {"3:4", {73, 55}}, {"9:16", {85, 47}}, {"2:3", {78, 52}}};
  return p;
}
}  // namespace

Task parse_task(std::string_view name) {
  for (auto& t : kTasks)
    if (name == t.name) return t.task;
  throw Error("unknown task \"" + std::string(name) + "\" (expected one of t2i, x2i, howto, story, explore, vla)");
}

std::string_view task_name(Task t) {
  for (auto& i : kTasks)
    if (i.task == t) return i.name;
  return "?";
}

TaskDefaults task_defaults(Task t) {
  TaskDefaults d;
  d.guidance_scale = t == Task::T2I ? 5.0f : 3.0f;
  d.text = SamplingParams{1024, 0.9f, 1.0f};
  if (t == Task::HOWTO) d.text = SamplingParams{200, 0.8f, 0.7f};
  bool single_image = t == Task::T2I || t == Task::X2I;
  d.image = SamplingParams{single_image ? 5120 : 10240, 1.0f, 1.0f};
  d.max_new_tokens = single_image ? 5120 : 32768;
  d.image_area = single_image ? 1048576 : 518400;
  return d;
}

const std::vector<std::string>& aspect_ratio_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (auto& [key, s] : presets()) k.push_back(key);
    return k;
  }();
  return keys;
}

std::optional<TokenSize> aspect_ratio_size(std::string_view key, int64_t image_area) {
  if (key == "auto") return std::nullopt;
  for (auto& [k, s] : presets()) {
    if (k != key) continue;
    if (image_area == 1048576) return s;
    double f = std::sqrt(static_cast<double>(image_area) / 1048576.0);
    return TokenSize{std::max(1, static_cast<int>(std::lround(s.h * f))),
                     std::max(1, static_cast<int>(std::lround(s.w * f)))};
  }
  std::string valid;
  for (auto& k : aspect_ratio_keys()) valid += k + ", ";
  throw Error("unknown aspect ratio \"" + std::string(key) + "\" (expected width:height, one of " + valid + "auto)");
}

TokenSize parse_token_size(std::string_view text) {
  size_t sep = text.find_first_of("x*X");
  auto bad = [&] {
    return Error("bad size \"" + std::string(text) + "\": expected ROWSxCOLS in tokens, e.g. 64x64 (1 token = 16 px)");
  };
  if (sep == std::string_view::npos || sep == 0 || sep + 1 >= text.size()) throw bad();
  auto num = [&](std::string_view s) {
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9' || v > 100000) throw bad();
      v = v * 10 + (c - '0');
    }
    return v;
  };
  TokenSize s{num(text.substr(0, sep)), num(text.substr(sep + 1))};
  if (s.h < 1 || s.w < 1 || s.h > 256 || s.w > 256)
    throw Error("size " + std::string(text) + " out of range: each side must be 1..256 tokens");
  return s;
}

int image_token_count(TokenSize s) {
  int header = static_cast<int>(std::to_string(s.h).size() + 1 + std::to_string(s.w).size());
  return 1 + header + 1 + s.h * s.w + (s.h - 1) + 1;
}

}  // namespace emu35
