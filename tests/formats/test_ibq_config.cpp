// IBQ vision tokenizer configs: config.yaml (upstream) and config.json (HF).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "formats/ibq_config.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace emu35 {
namespace {

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg << "\n  (missing '" << f << "')";
  }
}

TEST(IbqConfig, ParsesFixtureYaml) {
  IbqConfig c = IbqConfig::load(test::fixture("vq/config.yaml"));
  EXPECT_EQ(c.ch, 32);
  EXPECT_EQ(c.ch_mult, (std::vector<int64_t>{1, 1, 2, 2, 4}));
  EXPECT_EQ(c.num_res_blocks, 1);
  EXPECT_EQ(c.attn_resolutions, (std::vector<int64_t>{16}));
  EXPECT_EQ(c.z_channels, 64);
  EXPECT_EQ(c.in_channels, 3);
  EXPECT_EQ(c.out_ch, 3);
  EXPECT_EQ(c.resolution, 256);
  EXPECT_FALSE(c.double_z);
  EXPECT_EQ(c.n_embed, 64);
  EXPECT_EQ(c.embed_dim, 32);
  EXPECT_EQ(c.downsample_factor(), 16);
  // resolution 256 halves to 16 at the last of 5 levels: attention there only.
  for (int l = 0; l < 4; ++l) {
    EXPECT_FALSE(c.encoder_level_has_attention(l)) << l;
    EXPECT_FALSE(c.decoder_level_has_attention(l)) << l;
  }
  EXPECT_TRUE(c.encoder_level_has_attention(4));
  EXPECT_TRUE(c.decoder_level_has_attention(4));
}

TEST(IbqConfig, ParsesFullSizeShape) {
  IbqConfig c = IbqConfig::load(test::fixtures_dir().parent_path().parent_path() / "configs/emu3.5-visiontokenizer.yaml");
  EXPECT_EQ(c.ch, 256);
  EXPECT_EQ(c.num_res_blocks, 4);
  EXPECT_EQ(c.z_channels, 256);
  EXPECT_EQ(c.n_embed, 131072);
  EXPECT_EQ(c.embed_dim, 256);
  EXPECT_EQ(c.level_channels(4), 1024);
}

TEST(IbqConfig, JsonAndYamlRoundTrip) {
  IbqConfig c = IbqConfig::load(test::fixture("vq/config.yaml"));
  c.attn_resolutions = {16, 32};
  c.dropout = 0.1;
  for (const IbqConfig& back : {IbqConfig::from_json_text(c.to_json(), "x.json"), IbqConfig::from_yaml_text(c.to_yaml(), "x.yaml")}) {
    EXPECT_EQ(back.ch, c.ch);
    EXPECT_EQ(back.ch_mult, c.ch_mult);
    EXPECT_EQ(back.attn_resolutions, c.attn_resolutions);
    EXPECT_EQ(back.z_channels, c.z_channels);
    EXPECT_EQ(back.n_embed, c.n_embed);
    EXPECT_EQ(back.embed_dim, c.embed_dim);
    EXPECT_DOUBLE_EQ(back.dropout, c.dropout);
  }
  // Our writer produces the HF form: flat keys, codebook_size, model_type.
  std::string js = c.to_json();
  EXPECT_NE(js.find("\"model_type\": \"Emu3p5VisionVQ\""), std::string::npos) << js;
  EXPECT_NE(js.find("\"codebook_size\": 64"), std::string::npos) << js;
  EXPECT_EQ(js.find("ddconfig"), std::string::npos) << js;
}

TEST(IbqConfig, ParsesHuggingFaceJson) {
  const std::string hf = R"({
    "architectures": ["Emu3p5VisionVQModel"], "model_type": "Emu3p5VisionVQ",
    "auto_map": {"AutoConfig": "configuration_emu3p5visionvq.Emu3p5VisionVQConfig"},
    "attn_resolutions": [16], "ch": 256, "ch_mult": [1, 1, 2, 2, 4], "codebook_size": 131072,
    "double_z": false, "dropout": 0.0, "embed_dim": 256, "in_channels": 3, "num_res_blocks": 4,
    "out_ch": 3, "resolution": 256, "torch_dtype": "float32", "transformers_version": "4.48.2", "z_channels": 256})";
  IbqConfig c = IbqConfig::from_json_text(hf, "config.json");
  EXPECT_EQ(c.n_embed, 131072);
  EXPECT_EQ(c.ch, 256);
  // A nested ddconfig object and the n_embed spelling are read as well.
  IbqConfig d = IbqConfig::from_json_text(
      R"({"ddconfig": {"ch": 32, "ch_mult": [1, 2], "num_res_blocks": 1, "attn_resolutions": [], "z_channels": 8},
          "n_embed": 10, "embed_dim": 4})",
      "nested.json");
  EXPECT_EQ(d.ch_mult, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(d.n_embed, 10);
}

TEST(IbqConfig, UnwrapsParamsAndIgnoresTrainingKeys) {
  const std::string yaml = R"(
model:
  params:
    ddconfig: {ch: 64, ch_mult: [1, 2], num_res_blocks: 2, attn_resolutions: [8], z_channels: 16,
               in_channels: 3, out_ch: 3, resolution: 16, dropout: 0.0, double_z: False}
    n_embed: 128
    embed_dim: 16
    beta: 0.25
    use_entropy_loss: true
    cosine_similarity: false
    entropy_temperature: 0.01
)";
  IbqConfig c = IbqConfig::from_yaml_text(yaml, "wrapped.yaml");
  EXPECT_EQ(c.ch, 64);
  EXPECT_EQ(c.n_embed, 128);
  EXPECT_FALSE(c.encoder_level_has_attention(0));
  EXPECT_TRUE(c.encoder_level_has_attention(1));
}

TEST(IbqConfig, RejectsBadConfigs) {
  const std::string base_dd = "ch: 32, ch_mult: [1, 2], num_res_blocks: 1, attn_resolutions: [16], ";
  auto yaml = [&](const std::string& dd, const std::string& rest) {
    return "ddconfig: {" + base_dd + dd + "}\n" + rest;
  };
  expect_error([&] { IbqConfig::from_yaml_text(yaml("", "n_embed: 8\nembed_dim: 4\n"), "a.yaml"); },
               {"a.yaml", "missing required field \"ddconfig.z_channels\""});
  expect_error([&] { IbqConfig::from_yaml_text(yaml("z_channels: 8", "embed_dim: 4\n"), "b.yaml"); },
               {"b.yaml", "\"n_embed\""});
  expect_error([&] { IbqConfig::from_yaml_text(yaml("z_channels: 8", "n_embed: 8\n"), "b2.yaml"); },
               {"missing required field \"embed_dim\""});
  expect_error([&] { IbqConfig::from_yaml_text("n_embed: 8\nembed_dim: 4\n", "c.yaml"); },
               {"c.yaml", "missing required field \"ddconfig\""});
  expect_error([&] { IbqConfig::from_yaml_text(yaml("z_channels: abc", "n_embed: 8\nembed_dim: 4\n"), "d.yaml"); },
               {"d.yaml", "\"ddconfig.z_channels\" must be an integer"});
  expect_error([&] { IbqConfig::from_yaml_text("ddconfig: {ch: 48, ch_mult: [1], num_res_blocks: 1, attn_resolutions: [], z_channels: 8}\nn_embed: 8\nembed_dim: 4\n", "e.yaml"); },
               {"e.yaml", "\"ch\" is 48", "divisible by 32"});
  expect_error([&] { IbqConfig::from_yaml_text(yaml("z_channels: 8, double_z: true", "n_embed: 8\nembed_dim: 4\n"), "f.yaml"); },
               {"f.yaml", "double_z"});
  expect_error([&] { IbqConfig::from_yaml_text(yaml("z_channels: 8", "n_embed: 0\nembed_dim: 4\n"), "g.yaml"); },
               {"g.yaml", "\"n_embed\" is 0"});
  expect_error([&] { IbqConfig::from_yaml_text(yaml("z_channels: 8", "n_embed: 8\ncodebook_size: 9\nembed_dim: 4\n"), "h.yaml"); },
               {"h.yaml", "disagree"});
  expect_error([&] { IbqConfig::from_yaml_text("ddconfig: [unclosed\n", "i.yaml"); }, {"i.yaml", "not valid YAML"});
  expect_error([&] { IbqConfig::from_yaml_text(yaml("z_channels: 8, ch_mult: []", "n_embed: 8\nembed_dim: 4\n"), "j.yaml"); },
               {"j.yaml", "ch_mult"});
  expect_error([&] { IbqConfig::from_json_text("{\"model_type\": \"Emu3\"}", "k.json"); },
               {"k.json", "model_type", "Emu3p5VisionVQ"});
  expect_error([&] { IbqConfig::from_json_text("{\"ch\": 32", "l.json"); }, {"l.json", "not valid JSON"});
  expect_error([&] { IbqConfig::from_json_text("[1, 2]", "m.json"); }, {"m.json", "JSON object"});
  expect_error([&] { IbqConfig::from_json_text(R"({"ch": 32, "ch_mult": "1,2", "num_res_blocks": 1})", "n.json"); },
               {"n.json", "\"ch_mult\" must be a list of integers"});
}

TEST(IbqConfig, LoadPicksFileFromDirectory) {
  test::TempDir dir("ibqcfg");
  expect_error([&] { IbqConfig::load(dir.path()); }, {"no config.json or config.yaml"});
  IbqConfig c = IbqConfig::load(test::fixture("vq/config.yaml"));
  test::write_file(dir / "config.yaml", c.to_yaml());
  EXPECT_EQ(IbqConfig::load(dir.path()).n_embed, 64);
  c.n_embed = 96;  // config.json wins when both exist
  test::write_file(dir / "config.json", c.to_json());
  EXPECT_EQ(IbqConfig::load(dir.path()).n_embed, 96);
  test::write_file(dir / "config.txt", "x");
  expect_error([&] { IbqConfig::load(dir / "config.txt"); }, {"config.txt", ".json or .yaml"});
  expect_error([&] { IbqConfig::load(dir / "missing.yaml"); }, {"missing.yaml"});
}

}  // namespace
}  // namespace emu35
