// `emu35 generate` / `init-random` through the real binary: outputs, result.json,
// batch files, the Story protobuf, and requests refused before weights load.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "image/image_read.h"
#include "interleave_story.pb.h"
#include "test_support.h"

using emu35::test::emu35_binary;
using emu35::test::fixture;
using emu35::test::run_command;
using emu35::test::TempDir;
using nlohmann::json;

namespace {
std::string base_args() {
  return emu35_binary().string() + " generate --model " + fixture("model").string() + " --vq " + fixture("vq").string() +
         " --quiet";
}
json result_of(const std::filesystem::path& dir) { return json::parse(emu35::test::read_file(dir / "result.json")); }
}  // namespace

TEST(GenerateCli, X2iWritesPictureTextResultAndProto) {
  TempDir t("gen");
  std::string out;
  int rc = run_command(base_args() + " --task x2i --prompt 'make it snowy' --image " + fixture("images/ref_0.png").string() +
                           " --image-area 4096 --start-image --max-new-tokens 40 --image-top-k 1 --text-top-k 1"
                           " --guidance-scale 2 --seed 7 --output " + (t / "o").string() + " --proto " + (t / "s.pb").string(),
                       &out);
  ASSERT_EQ(rc, 0) << out;
  json r = result_of(t / "o");
  // Greedy: the fixture's x2i_one case.
  json cases = json::parse(emu35::test::read_file(fixture("cases.json")));
  EXPECT_EQ(r["generated_ids"], cases["e2e"][2]["generated_ids"]);
  EXPECT_EQ(r["prompt_ids"], cases["e2e"][2]["prompt_ids"]);
  EXPECT_EQ(r["parameters"]["seed"], 7);
  EXPECT_EQ(r["parameters"]["task"], "x2i");
  ASSERT_EQ(r["segments"][0]["type"], "image");
  EXPECT_EQ(r["segments"][0]["height"], 3);
  EXPECT_EQ(r["segments"][0]["width"], 5);
  auto img = emu35::read_image(t / "o" / r["segments"][0]["file"].get<std::string>());
  EXPECT_EQ(img.width, 80);
  EXPECT_EQ(img.height, 48);
  EXPECT_TRUE(std::filesystem::exists(t / "o/text_00.txt"));
  emu3p5::story::Story s;
  std::ifstream pf(t / "s.pb", std::ios::binary);
  ASSERT_TRUE(s.ParseFromIstream(&pf));
  EXPECT_EQ(s.question(), "make it snowy");
  ASSERT_EQ(s.reference_images_size(), 1);
  EXPECT_EQ(s.reference_images(0).image().width(), 768);
  ASSERT_GE(s.clips_size(), 1);
  EXPECT_EQ(s.clips(0).segments(0).images(0).image().width(), 80);
  // A second run into the same folder is refused (nothing lost) unless --overwrite.
  rc = run_command(base_args() + " --prompt x --start-image --target-size 2x2 --max-new-tokens 12 --output " +
                       (t / "o").string(), &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("--overwrite"), std::string::npos) << out;
}

TEST(GenerateCli, RequestsFileRunsABatch) {
  TempDir t("gen");
  std::ofstream f(t / "reqs.jsonl");
  f << R"({"task": "t2i", "prompt": "a red fox in snow", "target_size": "3x4", "image_area": 4096, "start_image": true, "max_new_tokens": 23, "image_top_k": 1, "text_top_k": 1, "guidance_scale": 3.0, "seed": 1})" << "\n\n";
  f << R"({"task": "story", "prompt": "a clay astronaut", "images": [")" << fixture("images/ref_1.png").string()
    << R"("], "image_area": 4096, "start_image": true, "max_new_tokens": 30, "image_top_k": 1, "text_top_k": 1, "guidance_scale": 3.0, "output": "astronaut"})" << "\n";
  f.close();
  std::string out;
  int rc = run_command(base_args() + " --requests " + (t / "reqs.jsonl").string() + " --output " + (t / "o").string(), &out);
  ASSERT_EQ(rc, 0) << out;
  json cases = json::parse(emu35::test::read_file(fixture("cases.json")));
  EXPECT_EQ(result_of(t / "o/000")["generated_ids"], cases["e2e"][0]["generated_ids"]);
  EXPECT_EQ(result_of(t / "o/astronaut")["generated_ids"], cases["e2e"][5]["generated_ids"]);
}

TEST(GenerateCli, BadRequestsFailBeforeLoading) {
  TempDir t("gen");
  struct Case {
    std::string args, expect;
  };
  std::vector<Case> cases = {
      {" --task paint --prompt x", "unknown task"},
      {" --task x2i --prompt x", "x2i"},
      {" --prompt x --image " + (t / "missing.png").string(), "missing.png"},
      {" --prompt x --image-top-k 0", "top_k"},
      {" --prompt x --guidance-scale -1", "guidance"},
      {" --prompt x --aspect-ratio 7:5", "aspect ratio"},
      {" --prompt x --target-size 3y4", "size"},
      {" --prompt x --max-new-tokens 9999999", "context"},
      {" --prompt x --format gif", "gif"},
      {" --prompt x --device tpu", "tpu"},
      {" --prompt ''", "prompt"},
  };
  for (auto& c : cases) {
    std::string out;
    int rc = run_command(base_args() + c.args + " --output " + (t / "o").string(), &out);
    EXPECT_NE(rc, 0) << c.args;
    EXPECT_NE(out.find(c.expect), std::string::npos) << c.args << "\n" << out;
    EXPECT_EQ(out.find("loading"), std::string::npos) << "weights loaded for a bad request: " << c.args;
  }
}

TEST(InitRandomCli, TinyModelGeneratesAPicture) {
  TempDir t("init");
  std::string out;
  ASSERT_EQ(run_command(emu35_binary().string() + " init-random --preset tiny --out " + (t / "m").string(), &out), 0) << out;
  EXPECT_NE(run_command(emu35_binary().string() + " init-random --preset tiny --out " + (t / "m").string(), &out), 0);
  int rc = run_command(emu35_binary().string() + " generate --model " + (t / "m/model").string() + " --vq " +
                           (t / "m/vq").string() + " --prompt 'a fox' --start-image --target-size 4x4 --max-new-tokens 30"
                           " --quiet --seed 3 --output " + (t / "o").string(), &out);
  ASSERT_EQ(rc, 0) << out;
  json r = result_of(t / "o");
  ASSERT_EQ(r["segments"][0]["type"], "image");
  auto img = emu35::read_image(t / "o/image_00.png");
  EXPECT_EQ(img.width, 64);
  EXPECT_EQ(img.height, 64);
  // Same seed, same picture.
  rc = run_command(emu35_binary().string() + " generate --model " + (t / "m/model").string() + " --vq " +
                       (t / "m/vq").string() + " --prompt 'a fox' --start-image --target-size 4x4 --max-new-tokens 30"
                       " --quiet --seed 3 --output " + (t / "o2").string(), &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(result_of(t / "o2")["generated_ids"], r["generated_ids"]);
}
