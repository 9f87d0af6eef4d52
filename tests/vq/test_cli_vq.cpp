// `emu35 vq-encode` / `vq-decode` end to end on a fixture picture: the codes
// printed are the reference codes, and decoding them gives the reference PNG
// within 1 per channel.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "formats/safetensors.h"
#include "image/image_read.h"
#include "test_support.h"

namespace emu35 {
namespace {

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

TEST(CliVq, EncodeDecodeRoundTripMatchesReference) {
  const auto cases = nlohmann::json::parse(test::read_file(test::fixture("cases.json"))).at("vq");
  ASSERT_FALSE(cases.empty());
  const auto& c = cases.at(0);
  const std::string bin = q(test::emu35_binary());
  const std::string vq = q(test::fixture("vq"));
  test::TempDir dir("cli-vq");

  std::string out;
  const std::string enc = bin + " vq-encode --vq " + vq + " --image " +
                          q(test::fixture("images/" + c.at("source").get<std::string>() + ".png")) +
                          " --image-area " + std::to_string(c.at("area").get<int64_t>());
  ASSERT_EQ(test::run_command(enc, &out, false), 0) << out;
  const auto j = nlohmann::json::parse(out);
  const int h = c.at("tokens_hw").at(0).get<int>(), w = c.at("tokens_hw").at(1).get<int>();
  EXPECT_EQ(j.at("height").get<int>(), h);
  EXPECT_EQ(j.at("width").get<int>(), w);
  const auto ref = SafeTensors::open(test::fixture(c.at("tensors").get<std::string>())).to_i64("codes");
  ASSERT_EQ(j.at("codes").size(), size_t(h));
  for (int y = 0; y < h; ++y) {
    ASSERT_EQ(j.at("codes").at(y).size(), size_t(w));
    for (int x = 0; x < w; ++x) EXPECT_EQ(j.at("codes").at(y).at(x).get<int64_t>(), ref[size_t(y * w + x)]);
  }

  test::write_file(dir / "codes.json", out);
  const std::string dec = bin + " vq-decode --vq " + vq + " --codes " + q(dir / "codes.json") + " --output " +
                          q(dir / "out.png");
  ASSERT_EQ(test::run_command(dec, &out), 0) << out;
  const Image got = read_image(dir / "out.png");
  const Image want = read_image(test::fixture(c.at("decoded_png").get<std::string>()));
  ASSERT_EQ(got.width, want.width);
  ASSERT_EQ(got.height, want.height);
  int max_diff = 0;
  for (size_t i = 0; i < got.rgb.size(); ++i) max_diff = std::max(max_diff, std::abs(int(got.rgb[i]) - int(want.rgb[i])));
  EXPECT_LE(max_diff, 1);
}

TEST(CliVq, ReportsBadInput) {
  const std::string bin = q(test::emu35_binary());
  const std::string vq = q(test::fixture("vq"));
  test::TempDir dir("cli-vq");
  std::string out;

  test::write_file(dir / "ragged.json", R"({"codes": [[1, 2], [3]]})");
  EXPECT_EQ(test::run_command(bin + " vq-decode --vq " + vq + " --codes " + q(dir / "ragged.json") + " --output " +
                                  q(dir / "o.png"),
                              &out),
            1);
  EXPECT_NE(out.find("row 1 has 1 entries"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir / "o.png"));

  test::write_file(dir / "range.json", R"({"codes": [[1, 64]]})");
  out.clear();
  EXPECT_EQ(test::run_command(bin + " vq-decode --vq " + vq + " --codes " + q(dir / "range.json") + " --output " +
                                  q(dir / "o.png"),
                              &out),
            1);
  EXPECT_NE(out.find("code 64 at row 0, column 1 is outside the codebook [0, 64)"), std::string::npos) << out;

  out.clear();
  EXPECT_EQ(test::run_command(bin + " vq-decode --vq " + vq + " --codes " + q(dir / "range.json") + " --output " +
                                  q(dir / "o.bmp"),
                              &out),
            1);
  EXPECT_NE(out.find("o.bmp"), std::string::npos) << out;

  out.clear();
  EXPECT_EQ(test::run_command(bin + " vq-encode --vq " + q(dir.path()) + " --image " + q(test::fixture("images/ref_0.png")), &out), 1);
  EXPECT_NE(out.find("no config.json or config.yaml"), std::string::npos) << out;

  out.clear();
  EXPECT_EQ(test::run_command(bin + " vq-encode --vq " + vq + " --image " + q(dir / "missing.png"), &out), 1);
  EXPECT_NE(out.find("missing.png"), std::string::npos) << out;
}

}  // namespace
}  // namespace emu35
