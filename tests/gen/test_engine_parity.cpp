// The whole request path on the fixture model: our templates + image encoding
// give the reference prompt ids; generation + extraction + IBQ decoding give the
// reference pictures.
#include <gtest/gtest.h>

#include <emu35/emu35.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "image/image_read.h"
#include "test_support.h"
#include "text/special_tokens.h"

using namespace emu35;
using nlohmann::json;

namespace {

const json& cases() {
  static const json c = json::parse(emu35::test::read_file(emu35::test::fixture("cases.json")));
  return c;
}

Engine& engine() {
  static std::unique_ptr<Engine> e = [] {
    EngineOptions o;
    o.model_dir = emu35::test::fixture("model");
    o.vq_dir = emu35::test::fixture("vq");
    return Engine::open(o);
  }();
  return *e;
}

Request request_from_case(const json& c) {
  Request r;
  r.task = parse_task(c["task"].get<std::string>());
  r.prompt = c["question"].get<std::string>();
  if (c["images"].is_array())
    for (auto& name : c["images"])
      r.images.push_back({name.get<std::string>(),
                          read_image(emu35::test::fixture("images/" + name.get<std::string>() + ".png"))});
  r.image_area = c["image_area"].get<int64_t>();
  r.guidance_scale = c["guidance_scale"].get<float>();
  r.max_new_tokens = c["max_new_tokens"].get<int>();
  if (c["target_hw"].is_array()) r.target_size = TokenSize{c["target_hw"][0].get<int>(), c["target_hw"][1].get<int>()};
  else r.aspect_ratio = "auto";
  r.start_image = c["prompt_ends_with_boi"].get<bool>();
  r.text_top_k = c["text_top_k"].get<int>();
  r.image_top_k = c["image_top_k"].get<int>();
  r.seed = 1;
  return r;
}

void expect_image_near(const Image& got, const std::filesystem::path& png) {
  Image ref = read_image(png);
  ASSERT_EQ(got.width, ref.width);
  ASSERT_EQ(got.height, ref.height);
  int worst = 0;
  for (size_t i = 0; i < ref.rgb.size(); ++i) worst = std::max(worst, std::abs(int(got.rgb[i]) - int(ref.rgb[i])));
  EXPECT_LE(worst, 1) << png;
}

}  // namespace

TEST(EngineParity, PromptIdsMatchTheReference) {
  int checked = 0;
  for (const json& c : cases()["e2e"]) {
    const std::string id = c["id"].get<std::string>();
    if (id == "howto_text") continue;  // built upstream with the plain template (fixtures README)
    SCOPED_TRACE(id);
    Request r = request_from_case(c);
    EXPECT_EQ(c["template_image_first"].get<bool>(), r.task == Task::X2I);
    PreparedRequest p = engine().prepare(r);
    EXPECT_EQ(p.gen.prompt_ids, c["prompt_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(p.gen.uncond_ids, c["unconditional_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(p.params.force_same_image_size, c["force_same_image_size"].get<bool>());
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

TEST(EngineParity, GenerationsAndPicturesMatchTheReference) {
  std::vector<Request> reqs;
  for (const json& c : cases()["e2e"]) reqs.push_back(request_from_case(c));
  // howto_text: feed the reference's ids directly (plain template upstream).
  auto outputs = engine().generate(reqs);
  ASSERT_EQ(outputs.size(), reqs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const json& c = cases()["e2e"][i];
    const std::string id = c["id"].get<std::string>();
    SCOPED_TRACE(id);
    if (id == "howto_text") continue;
    EXPECT_EQ(outputs[i].result.generated_ids, c["generated_ids"].get<std::vector<int32_t>>());
    if (c.contains("image_png")) {
      ASSERT_EQ(outputs[i].images.size(), 1u);
      expect_image_near(outputs[i].images[0], emu35::test::fixture(c["image_png"].get<std::string>()));
      auto& seg = outputs[i].segments;
      auto it = std::find_if(seg.begin(), seg.end(), [](const Segment& s) { return s.kind == Segment::Kind::Image; });
      ASSERT_NE(it, seg.end());
      std::vector<int32_t> flat;
      for (auto& row : c["image_codes"]) for (auto& v : row) flat.push_back(v.get<int32_t>());
      EXPECT_EQ(it->codes, flat);
    } else {
      EXPECT_TRUE(outputs[i].images.empty());  // unfinished pictures are dropped
    }
  }
}

TEST(EngineParity, HowtoTextCaseFromItsIds) {
  const json* c = nullptr;
  for (const json& x : cases()["e2e"])
    if (x["id"] == "howto_text") c = &x;
  ASSERT_TRUE(c);
  Request r = request_from_case(*c);
  PreparedRequest p = engine().prepare(r);
  p.gen.prompt_ids = (*c)["prompt_ids"].get<std::vector<int32_t>>();
  p.gen.uncond_ids = (*c)["unconditional_ids"].get<std::vector<int32_t>>();
  Generator gen(engine().lm());
  auto res = gen.run({p.gen});
  EXPECT_EQ(res[0].generated_ids, (*c)["generated_ids"].get<std::vector<int32_t>>());
  Output o = engine().finish(std::move(p), std::move(res[0]));
  ASSERT_EQ(o.segments.size(), 1u);
  EXPECT_EQ(o.segments[0].kind, Segment::Kind::Text);
  EXPECT_EQ(o.segments[0].text, (*c)["generated_text"].get<std::string>());
}

TEST(EngineParity, InvalidRequestsFailBeforeWork) {
  Request r;
  r.task = Task::X2I;
  r.prompt = "edit";
  EXPECT_THROW(resolve_params(r), Error);  // x2i without an image
  r.task = Task::T2I;
  r.prompt = "   ";
  EXPECT_THROW(resolve_params(r), Error);
  r.prompt = "ok";
  r.image_top_k = 0;
  EXPECT_THROW(resolve_params(r), Error);
  r.image_top_k.reset();
  r.guidance_scale = -2;
  EXPECT_THROW(resolve_params(r), Error);
  r.guidance_scale.reset();
  r.aspect_ratio = "5:4";
  EXPECT_THROW(resolve_params(r), Error);
  r.aspect_ratio = "1:1";
  r.max_new_tokens = 100;  // a 64x64 picture needs 4167
  EXPECT_THROW(resolve_params(r), Error);
  r.max_new_tokens = 9000;  // beyond the fixture model's 9216-token context with the prompt
  r.image_area = 4 << 20;
  r.aspect_ratio = "auto";
  r.max_new_tokens = 9210;
  EXPECT_THROW(engine().prepare(r), Error);
  Request ok;
  ok.prompt = "a cat";
  ResolvedParams p = resolve_params(ok);
  EXPECT_EQ(p.guidance_scale, 5.0f);
  EXPECT_EQ(p.image.top_k, 5120);
  EXPECT_EQ(p.max_new_tokens, 5120);
  ASSERT_TRUE(p.target_size);
  EXPECT_EQ(p.target_size->h, 64);
}
