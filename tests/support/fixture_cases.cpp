#include "fixture_cases.h"

#include <vector>

#include "test_support.h"

namespace emu35::test {

const nlohmann::json& fixture_cases() {
  static const nlohmann::json c = nlohmann::json::parse(read_file(fixture("cases.json")));
  return c;
}

std::shared_ptr<const lm::LmWeights> fixture_lm_weights() {
  static auto w = lm::LmWeights::load(fixture("model"));
  return w;
}

GenerationRequest generation_request_from_case(const nlohmann::json& c) {
  GenerationRequest r;
  r.prompt_ids = c["prompt_ids"].get<std::vector<int32_t>>();
  r.uncond_ids = c["unconditional_ids"].get<std::vector<int32_t>>();
  r.guidance_scale = c["guidance_scale"].get<float>();
  r.max_new_tokens = c["max_new_tokens"].get<int>();
  r.text = {c["text_top_k"].get<int>(), 1.0f, 1.0f};
  r.image = {c["image_top_k"].get<int>(), 1.0f, 1.0f};
  if (!c["target_hw"].is_null()) r.target_size = TokenSize{c["target_hw"][0].get<int>(), c["target_hw"][1].get<int>()};
  r.force_same_image_size = c["force_same_image_size"].get<bool>();
  r.seed = 1234;
  return r;
}

}  // namespace emu35::test
