// End-to-end greedy generations against the reference (cases.json "e2e"):
// the fixture's prompt ids in, generated ids out, exactly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "gen/generator.h"
#include "lm/lm_weights.h"
#include "lm/runner.h"
#include "fixture_cases.h"
#include "test_support.h"

using namespace emu35;
using nlohmann::json;

namespace {

const json& cases() { return emu35::test::fixture_cases(); }
std::shared_ptr<const lm::LmWeights> fixture_model() { return emu35::test::fixture_lm_weights(); }
GenerationRequest request_from_case(const json& c) { return emu35::test::generation_request_from_case(c); }

}  // namespace

TEST(GenerationE2E, EveryCaseReproducesExactly) {
  auto runner = lm::make_cpu_runner(fixture_model());
  for (const json& c : cases()["e2e"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    Generator gen(*runner);
    auto results = gen.run({request_from_case(c)});
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].generated_ids, c["generated_ids"].get<std::vector<int32_t>>());
    EXPECT_TRUE(results[0].stop_reason == "max_new_tokens" || results[0].stop_reason == "eos")
        << results[0].stop_reason << " " << results[0].error;
  }
}

TEST(GenerationE2E, AllCasesBatchedTogetherMatchOneByOne) {
  // Several requests of different prompt lengths and modes in one batch per step.
  auto runner = lm::make_cpu_runner(fixture_model());
  std::vector<GenerationRequest> reqs;
  for (const json& c : cases()["e2e"]) reqs.push_back(request_from_case(c));
  Generator gen(*runner);
  size_t max_rows = 0;
  auto results = gen.run(reqs, [&](size_t, const StepEvent&) { max_rows = std::max(max_rows, gen.rows_last_step()); });
  ASSERT_EQ(results.size(), cases()["e2e"].size());
  for (size_t i = 0; i < results.size(); ++i) {
    SCOPED_TRACE(cases()["e2e"][i]["id"].get<std::string>());
    EXPECT_EQ(results[i].generated_ids, cases()["e2e"][i]["generated_ids"].get<std::vector<int32_t>>());
  }
  EXPECT_GT(max_rows, reqs.size());  // conditional + unconditional rows shared one forward
}

TEST(GenerationE2E, ThreeStreamImageGuidanceRuns) {
  // image_cfg_scale == 0 with the full-unconditional stream equal to the
  // unconditional one reduces exactly to two-stream CFG.
  auto runner = lm::make_cpu_runner(fixture_model());
  const json& c = cases()["e2e"][2];  // x2i_one
  GenerationRequest r = request_from_case(c);
  r.uncond_full_ids = r.uncond_ids;
  r.image_cfg_scale = 1.0f;
  Generator gen(*runner);
  auto res = gen.run({r});
  EXPECT_EQ(res[0].generated_ids, c["generated_ids"].get<std::vector<int32_t>>());
}

TEST(GenerationE2E, SameSeedSameOutputDifferentSeedDiffers) {
  auto runner = lm::make_cpu_runner(fixture_model());
  GenerationRequest r = request_from_case(cases()["e2e"][0]);
  r.text = {1024, 0.9f, 1.0f};
  r.image = {64, 1.0f, 1.0f};
  r.seed = 5;
  Generator gen(*runner);
  auto a = gen.run({r, r});
  EXPECT_EQ(a[0].generated_ids, a[1].generated_ids);
  auto b = gen.run({r});
  EXPECT_EQ(a[0].generated_ids, b[0].generated_ids);
  r.seed = 6;
  auto c = gen.run({r});
  EXPECT_NE(a[0].generated_ids, c[0].generated_ids);
}

TEST(GenerationE2E, CancelAndBadRequests) {
  auto runner = lm::make_cpu_runner(fixture_model());
  Generator gen(*runner);
  GenerationRequest r = request_from_case(cases()["e2e"][0]);
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  int h = gen.submit(r, {}, cancel);
  gen.step();
  cancel->store(true);
  auto fin = gen.step();
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].first, h);
  EXPECT_EQ(fin[0].second.stop_reason, "canceled");
  EXPECT_EQ(gen.active(), 0u);

  GenerationRequest bad = r;
  bad.image.top_k = 0;
  EXPECT_THROW(gen.submit(bad), Error);
  bad = r;
  bad.guidance_scale = -1;
  EXPECT_THROW(gen.submit(bad), Error);
  bad = r;
  bad.max_new_tokens = 100000;
  EXPECT_THROW(gen.submit(bad), Error);
  bad = r;
  bad.prompt_ids.push_back(999999);
  EXPECT_THROW(gen.submit(bad), Error);
  EXPECT_EQ(gen.active(), 0u);
}
