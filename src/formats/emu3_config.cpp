#include "formats/emu3_config.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace emu35 {

namespace {

template <typename T>
void read_field(const json& j, const char* key, T* out, bool required, const std::string& src) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) throw Error(src + ": missing required field \"" + key + "\"");
    return;
  }
  const json& v = j[key];
  try {
    if constexpr (std::is_same_v<T, int64_t>) {
      if (!v.is_number_integer()) throw Error("");
      *out = v.get<int64_t>();
    } else if constexpr (std::is_same_v<T, double>) {
      if (!v.is_number()) throw Error("");
      *out = v.get<double>();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) throw Error("");
      *out = v.get<bool>();
    } else {
      if (!v.is_string()) throw Error("");
      *out = v.get<std::string>();
    }
  } catch (const Error&) {
    throw Error(src + ": field \"" + key + "\" has the wrong type (" + v.type_name() + ")");
  }
}

}  // namespace

Emu3Config Emu3Config::from_json_text(const std::string& text, const std::string& src) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(src + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(src + ": expected a JSON object");
  Emu3Config c;
  read_field(j, "model_type", &c.model_type, true, src);
  if (c.model_type != "Emu3")
    throw Error(src + ": model_type is \"" + c.model_type + "\", expected \"Emu3\" (an Emu3.5 transformer checkpoint)");
  read_field(j, "vocab_size", &c.vocab_size, true, src);
  read_field(j, "hidden_size", &c.hidden_size, true, src);
  read_field(j, "intermediate_size", &c.intermediate_size, true, src);
  read_field(j, "num_hidden_layers", &c.num_hidden_layers, true, src);
  read_field(j, "num_attention_heads", &c.num_attention_heads, true, src);
  c.num_key_value_heads = c.num_attention_heads;
  read_field(j, "num_key_value_heads", &c.num_key_value_heads, false, src);
  if (c.num_attention_heads > 0) c.head_dim = c.hidden_size / c.num_attention_heads;
  read_field(j, "head_dim", &c.head_dim, false, src);
  read_field(j, "max_position_embeddings", &c.max_position_embeddings, false, src);
  read_field(j, "rms_norm_eps", &c.rms_norm_eps, false, src);
  read_field(j, "rope_theta", &c.rope_theta, false, src);
  read_field(j, "tie_word_embeddings", &c.tie_word_embeddings, false, src);
  read_field(j, "hidden_act", &c.hidden_act, false, src);
  read_field(j, "torch_dtype", &c.torch_dtype, false, src);
  read_field(j, "attention_dropout", &c.attention_dropout, false, src);
  read_field(j, "initializer_range", &c.initializer_range, false, src);
  read_field(j, "pretraining_tp", &c.pretraining_tp, false, src);
  read_field(j, "use_cache", &c.use_cache, false, src);
  read_field(j, "image_area", &c.image_area, false, src);
  read_field(j, "pad_token_id", &c.pad_token_id, false, src);
  read_field(j, "bos_token_id", &c.bos_token_id, false, src);
  read_field(j, "eos_token_id", &c.eos_token_id, false, src);
  read_field(j, "img_token_id", &c.img_token_id, false, src);
  read_field(j, "boi_token_id", &c.boi_token_id, false, src);
  read_field(j, "eoi_token_id", &c.eoi_token_id, false, src);
  read_field(j, "eol_token_id", &c.eol_token_id, false, src);
  read_field(j, "eof_token_id", &c.eof_token_id, false, src);
  if (j.contains("architectures") && j["architectures"].is_array())
    for (auto& a : j["architectures"])
      if (a.is_string()) c.architectures.push_back(a.get<std::string>());
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const json& rs = j["rope_scaling"];
    std::string type = rs.is_object() ? rs.value("rope_type", rs.value("type", std::string("?"))) : "?";
    if (type != "default")
      throw Error(src + ": rope_scaling type \"" + type + "\" is not supported (Emu3.5 uses none)");
  }

  auto positive = [&](const char* name, int64_t v) {
    if (v <= 0) throw Error(src + ": \"" + name + "\" must be positive, got " + std::to_string(v));
  };
  positive("vocab_size", c.vocab_size);
  positive("hidden_size", c.hidden_size);
  positive("intermediate_size", c.intermediate_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("num_key_value_heads", c.num_key_value_heads);
  positive("head_dim", c.head_dim);
  positive("max_position_embeddings", c.max_position_embeddings);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw Error(src + ": num_attention_heads (" + std::to_string(c.num_attention_heads) +
                ") is not a multiple of num_key_value_heads (" + std::to_string(c.num_key_value_heads) + ")");
  if (c.head_dim % 2 != 0) throw Error(src + ": head_dim must be even for rotary embeddings");
  if (c.hidden_act != "silu") throw Error(src + ": hidden_act \"" + c.hidden_act + "\" is not supported (silu only)");
  if (!(c.rms_norm_eps > 0)) throw Error(src + ": rms_norm_eps must be positive");
  if (!(c.rope_theta > 0)) throw Error(src + ": rope_theta must be positive");
  return c;
}

Emu3Config Emu3Config::load(const fs::path& p) {
  fs::path file = fs::is_directory(p) ? p / "config.json" : p;
  if (!fs::exists(file)) throw Error(file.string() + ": not found (an Emu3.5 model folder holds config.json)");
  return from_json_text(read_whole_file(file), file.string());
}

int64_t Emu3Config::num_parameters() const {
  int64_t h = hidden_size;
  int64_t per_layer = h * q_dim() + 2 * h * kv_dim() + q_dim() * h  // attention
                      + 3 * h * intermediate_size                  // MLP
                      + 2 * h + 2 * head_dim;                      // norms
  return num_hidden_layers * per_layer + vocab_size * h * (tie_word_embeddings ? 1 : 2) + h;
}

std::string Emu3Config::to_json() const {
  json j = {{"architectures", architectures.empty() ? std::vector<std::string>{"Emu3ForCausalLM"} : architectures},
            {"model_type", model_type},
            {"vocab_size", vocab_size},
            {"hidden_size", hidden_size},
            {"intermediate_size", intermediate_size},
            {"num_hidden_layers", num_hidden_layers},
            {"num_attention_heads", num_attention_heads},
            {"num_key_value_heads", num_key_value_heads},
            {"head_dim", head_dim},
            {"max_position_embeddings", max_position_embeddings},
            {"rms_norm_eps", rms_norm_eps},
            {"rope_theta", rope_theta},
            {"rope_scaling", nullptr},
            {"tie_word_embeddings", tie_word_embeddings},
            {"hidden_act", hidden_act},
            {"torch_dtype", torch_dtype},
            {"attention_dropout", attention_dropout},
            {"initializer_range", initializer_range},
            {"pretraining_tp", pretraining_tp},
            {"use_cache", use_cache},
            {"image_area", image_area},
            {"pad_token_id", pad_token_id},
            {"bos_token_id", bos_token_id},
            {"eos_token_id", eos_token_id},
            {"img_token_id", img_token_id},
            {"boi_token_id", boi_token_id},
            {"eoi_token_id", eoi_token_id},
            {"eol_token_id", eol_token_id},
            {"eof_token_id", eof_token_id}};
  return j.dump(2);
}

}  // namespace emu35
