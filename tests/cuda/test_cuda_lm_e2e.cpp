// The fixtures' end-to-end greedy generations on the GPU in fp32: exactly the
// reference ids, one request at a time and all batched together, through the
// GPU step backend (device sampling) and through the Engine with
// --device cuda --precision fp32. Also: device sampling draws the same tokens
// as host sampling on the same GPU logits with non-greedy settings.
#include <gtest/gtest.h>

#ifdef EMU35_HAVE_CUDA
#include <emu35/emu35.h>

#include <nlohmann/json.hpp>

#include "cuda/cuda_backend.h"
#include "cuda/lm_cuda_runner.h"
#include "cuda/lm_step_backend.h"
#include "gen/generator.h"
#include "image/image_read.h"
#include "fixture_cases.h"
#include "test_cuda_lm_util.h"

namespace emu35::cuda_lm_test {
namespace {

using nlohmann::json;

const json& cases() { return emu35::test::fixture_cases(); }
std::shared_ptr<const lm::LmWeights> fixture_model() { return emu35::test::fixture_lm_weights(); }
GenerationRequest request_from_case(const json& c) { return emu35::test::generation_request_from_case(c); }

TEST(CudaLmE2E, GreedyCasesReproduceExactlyInFp32) {
  EMU35_REQUIRE_GPU();
  cuda::CudaBackend b = cuda::make_cuda_backend(fixture_model(), 0, "fp32");
  for (const json& c : cases()["e2e"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    Generator gen(*b.step);
    auto res = gen.run({request_from_case(c)});
    ASSERT_EQ(res.size(), 1u);
    EXPECT_EQ(res[0].generated_ids, c["generated_ids"].get<std::vector<int32_t>>());
    EXPECT_TRUE(res[0].stop_reason == "max_new_tokens" || res[0].stop_reason == "eos")
        << res[0].stop_reason << " " << res[0].error;
  }
}

TEST(CudaLmE2E, AllCasesBatchedTogetherInFp32) {
  EMU35_REQUIRE_GPU();
  cuda::CudaBackend b = cuda::make_cuda_backend(fixture_model(), 0, "fp32");
  std::vector<GenerationRequest> reqs;
  for (const json& c : cases()["e2e"]) reqs.push_back(request_from_case(c));
  // Three-stream guidance with image_cfg_scale and the full stream equal to the
  // unconditional one reduces to two streams: an extra request, same ids as case 2.
  GenerationRequest three = request_from_case(cases()["e2e"][2]);
  three.uncond_full_ids = three.uncond_ids;
  three.image_cfg_scale = 1.0f;
  reqs.push_back(three);
  Generator gen(*b.step);
  auto res = gen.run(reqs);
  ASSERT_EQ(res.size(), reqs.size());
  for (size_t i = 0; i < cases()["e2e"].size(); ++i) {
    SCOPED_TRACE(cases()["e2e"][i]["id"].get<std::string>());
    EXPECT_EQ(res[i].generated_ids, cases()["e2e"][i]["generated_ids"].get<std::vector<int32_t>>());
  }
  EXPECT_EQ(res.back().generated_ids, cases()["e2e"][2]["generated_ids"].get<std::vector<int32_t>>());
}

TEST(CudaLmE2E, DeviceSamplingDrawsWhatHostSamplingDraws) {
  // Two identical fp32 runners: one samples on the GPU, the other copies the
  // logits to the host and samples there. Same seed: same tokens.
  EMU35_REQUIRE_GPU();
  cuda::CudaRunnerOptions o;
  o.precision = cuda::Precision::FP32;
  o.progress = false;
  cuda::CudaRunner a(fixture_model(), o), h(fixture_model(), o);
  auto dev = cuda::make_cuda_step_backend(a);
  auto host = make_host_step_backend(h);
  std::vector<GenerationRequest> reqs;
  for (const json& c : cases()["e2e"]) {
    GenerationRequest r = request_from_case(c);
    r.text = {1024, 0.9f, 1.0f};
    r.image = {32, 0.8f, 0.9f};
    r.seed = 77 + reqs.size();
    reqs.push_back(r);
  }
  Generator gd(*dev), gh(*host);
  auto rd = gd.run(reqs), rh = gh.run(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(rd[i].generated_ids, rh[i].generated_ids) << "request " << i;
    EXPECT_EQ(rd[i].stop_reason, rh[i].stop_reason);
  }
}

TEST(CudaLmE2E, Bf16GenerationCompletes) {
  EMU35_REQUIRE_GPU();
  cuda::CudaBackend b = cuda::make_cuda_backend(fixture_model(), 0, "bf16");
  std::vector<GenerationRequest> reqs;
  for (const json& c : cases()["e2e"]) reqs.push_back(request_from_case(c));
  Generator gen(*b.step);
  auto res = gen.run(reqs);
  size_t same = 0, total = 0;
  for (size_t i = 0; i < res.size(); ++i) {
    EXPECT_TRUE(res[i].stop_reason == "max_new_tokens" || res[i].stop_reason == "eos") << res[i].error;
    for (int32_t id : res[i].generated_ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, b.runner->vocab_size());
    }
    const auto ref = cases()["e2e"][i]["generated_ids"].get<std::vector<int32_t>>();
    for (size_t j = 0; j < std::min(ref.size(), res[i].generated_ids.size()); ++j)
      same += ref[j] == res[i].generated_ids[j];
    total += ref.size();
  }
  std::cout << "  bf16: " << same << " of " << total << " greedy tokens equal to the fp32 reference\n";
}

// As `emu35 generate --device cuda --precision fp32`: templates, reference
// pictures through the (CPU) vision tokenizer, generation on the GPU, extraction.
TEST(CudaLmE2E, EngineOnCudaFp32MatchesTheReference) {
  EMU35_REQUIRE_GPU();
  EngineOptions o;
  o.model_dir = test::fixture("model");
  o.vq_dir = test::fixture("vq");
  o.device = "cuda";
  o.precision = "fp32";
  o.vq_device = "cpu";
  auto engine = Engine::open(o);
  std::vector<Request> reqs;
  std::vector<const json*> used;
  for (const json& c : cases()["e2e"]) {
    if (c["id"].get<std::string>() == "howto_text") continue;  // built upstream with another template
    Request r;
    r.task = parse_task(c["task"].get<std::string>());
    r.prompt = c["question"].get<std::string>();
    if (c["images"].is_array())
      for (auto& name : c["images"])
        r.images.push_back(
            {name.get<std::string>(), read_image(test::fixture("images/" + name.get<std::string>() + ".png"))});
    r.image_area = c["image_area"].get<int64_t>();
    r.guidance_scale = c["guidance_scale"].get<float>();
    r.max_new_tokens = c["max_new_tokens"].get<int>();
    if (c["target_hw"].is_array())
      r.target_size = TokenSize{c["target_hw"][0].get<int>(), c["target_hw"][1].get<int>()};
    else
      r.aspect_ratio = "auto";
    r.start_image = c["prompt_ends_with_boi"].get<bool>();
    r.text_top_k = c["text_top_k"].get<int>();
    r.image_top_k = c["image_top_k"].get<int>();
    r.seed = 1;
    reqs.push_back(r);
    used.push_back(&c);
  }
  auto outputs = engine->generate(reqs);
  ASSERT_EQ(outputs.size(), reqs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    SCOPED_TRACE((*used[i])["id"].get<std::string>());
    EXPECT_EQ(outputs[i].result.generated_ids, (*used[i])["generated_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(outputs[i].images.size(), used[i]->contains("image_png") ? 1u : 0u);
  }
}

}  // namespace
}  // namespace emu35::cuda_lm_test

#else
TEST(CudaLmE2E, SkippedWithoutCuda) { GTEST_SKIP() << "built without the CUDA backend"; }
#endif
