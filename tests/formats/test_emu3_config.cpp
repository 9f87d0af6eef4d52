// config.json of the Emu3 transformer: the fixture's, defaults, and named errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "formats/emu3_config.h"
#include "test_support.h"

using namespace emu35;
using nlohmann::json;

namespace {
std::string error_of(const std::string& text) {
  try {
    Emu3Config::from_json_text(text, "cfg.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Emu3Config, FixtureConfigEveryField) {
  Emu3Config c = Emu3Config::load(emu35::test::fixture("model"));
  json ref = json::parse(emu35::test::read_file(emu35::test::fixture("model/config.json")));
  EXPECT_EQ(c.vocab_size, ref["vocab_size"].get<int64_t>());
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.intermediate_size, 96);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.max_position_embeddings, ref["max_position_embeddings"].get<int64_t>());
  EXPECT_EQ(c.rms_norm_eps, ref["rms_norm_eps"].get<double>());
  EXPECT_EQ(c.rope_theta, ref["rope_theta"].get<double>());
  EXPECT_EQ(c.tie_word_embeddings, false);
  EXPECT_EQ(c.hidden_act, "silu");
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.image_area, ref["image_area"].get<int64_t>());
  EXPECT_EQ(c.attention_dropout, ref["attention_dropout"].get<double>());
  EXPECT_EQ(c.initializer_range, ref["initializer_range"].get<double>());
  EXPECT_EQ(c.pretraining_tp, 1);
  EXPECT_TRUE(c.use_cache);
  EXPECT_EQ(c.architectures, std::vector<std::string>{"Emu3ForCausalLM"});
  for (auto [key, val] : std::initializer_list<std::pair<const char*, int64_t>>{
           {"pad_token_id", c.pad_token_id}, {"bos_token_id", c.bos_token_id}, {"eos_token_id", c.eos_token_id},
           {"img_token_id", c.img_token_id}, {"boi_token_id", c.boi_token_id}, {"eoi_token_id", c.eoi_token_id},
           {"eol_token_id", c.eol_token_id}, {"eof_token_id", c.eof_token_id}})
    EXPECT_EQ(val, ref[key].get<int64_t>()) << key;
  EXPECT_EQ(c.q_dim(), 64);  // heads x head_dim != hidden, as in the real model
  // to_json round-trips.
  Emu3Config c2 = Emu3Config::from_json_text(c.to_json(), "rt");
  EXPECT_EQ(c2.to_json(), c.to_json());
}

TEST(Emu3Config, FullSizeShapeHas34BParameters) {
  Emu3Config c = Emu3Config::load(emu35::test::fixtures_dir().parent_path().parent_path() / "configs/emu3.5-34b.json");
  EXPECT_EQ(c.q_dim(), 8192);
  EXPECT_NEAR(c.num_parameters() / 1e9, 34.10, 0.01);
}

TEST(Emu3Config, UnknownFieldsIgnoredDefaultsApplied) {
  Emu3Config c = Emu3Config::from_json_text(
      R"({"model_type":"Emu3","vocab_size":10,"hidden_size":8,"intermediate_size":4,"num_hidden_layers":1,
          "num_attention_heads":2,"some_future_field":{"x":1}})", "cfg");
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
}

TEST(Emu3Config, ErrorsNameTheField) {
  const std::string base = R"("model_type":"Emu3","vocab_size":10,"hidden_size":8,"intermediate_size":4,"num_attention_heads":2)";
  EXPECT_NE(error_of("{" + base + "}").find("num_hidden_layers"), std::string::npos);
  EXPECT_NE(error_of(R"({"vocab_size":1})").find("model_type"), std::string::npos);
  EXPECT_NE(error_of(R"({"model_type":"llama"})").find("llama"), std::string::npos);
  EXPECT_NE(error_of("{" + base + R"(,"num_hidden_layers":"two"})").find("num_hidden_layers"), std::string::npos);
  EXPECT_NE(error_of("{" + base + R"(,"num_hidden_layers":0})").find("num_hidden_layers"), std::string::npos);
  EXPECT_NE(error_of("{" + base + R"(,"num_hidden_layers":1,"num_key_value_heads":3})").find("num_key_value_heads"),
            std::string::npos);
  EXPECT_NE(error_of("{" + base + R"(,"num_hidden_layers":1,"hidden_act":"gelu"})").find("gelu"), std::string::npos);
  EXPECT_NE(error_of("{" + base + R"(,"num_hidden_layers":1,"rope_scaling":{"type":"linear","factor":2}})").find("rope_scaling"),
            std::string::npos);
  EXPECT_NE(error_of("{oops").find("cfg.json"), std::string::npos);
  EXPECT_THROW(Emu3Config::load("/nonexistent/dir"), Error);
}
