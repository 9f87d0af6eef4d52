#include "formats/ibq_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/file_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace emu35 {

namespace {

constexpr const char* kModelType = "Emu3p5VisionVQ";

// YAML scalars carry no type; read plain ones the way PyYAML (OmegaConf) does
// for the values a config uses: integers, floats, booleans, null, else text.
json yaml_scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: always a string
  int64_t i;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) return i;
  std::string low = s;
  std::transform(low.begin(), low.end(), low.begin(), [](unsigned char c) { return std::tolower(c); });
  if (low == "true" || low == "yes" || low == "on") return true;
  if (low == "false" || low == "no" || low == "off") return false;
  if (low == "null" || low == "~" || low.empty()) return nullptr;
  try {
    return n.as<double>();
  } catch (const YAML::Exception&) {
    return s;
  }
}

json yaml_to_json(const YAML::Node& n, int depth) {
  if (depth > 64) throw Error("nesting too deep");
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json j = json::object();
      for (const auto& kv : n) j[kv.first.as<std::string>()] = yaml_to_json(kv.second, depth + 1);
      return j;
    }
    case YAML::NodeType::Sequence: {
      json j = json::array();
      for (const auto& v : n) j.push_back(yaml_to_json(v, depth + 1));
      return j;
    }
    case YAML::NodeType::Scalar: return yaml_scalar(n);
    default: return nullptr;
  }
}

// Field readers over the (flattened) config object; `where` is how errors
// spell the enclosing object ("" or "ddconfig.").
struct Reader {
  const json& j;
  std::string src;
  std::string where;

  const json* find(const char* key) const {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  [[noreturn]] void bad(const char* key, const std::string& why) const {
    throw Error(src + ": field \"" + where + key + "\" " + why);
  }
  bool get_int(const char* key, int64_t* out, bool required) const {
    const json* v = find(key);
    if (!v) {
      if (required) throw Error(src + ": missing required field \"" + where + key + "\"");
      return false;
    }
    if (v->is_number_integer()) {
      *out = v->get<int64_t>();
    } else if (v->is_number_float() && v->get<double>() == static_cast<double>(static_cast<int64_t>(v->get<double>()))) {
      *out = static_cast<int64_t>(v->get<double>());  // 256.0 written by some tools
    } else {
      bad(key, std::string("must be an integer (got ") + v->type_name() + ")");
    }
    return true;
  }
  void get_int_list(const char* key, std::vector<int64_t>* out, bool required) const {
    const json* v = find(key);
    if (!v) {
      if (required) throw Error(src + ": missing required field \"" + where + key + "\"");
      return;
    }
    if (!v->is_array()) bad(key, std::string("must be a list of integers (got ") + v->type_name() + ")");
    out->clear();
    for (const json& x : *v) {
      if (!x.is_number_integer()) bad(key, "must be a list of integers");
      out->push_back(x.get<int64_t>());
    }
  }
  void get_double(const char* key, double* out) const {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_number()) bad(key, std::string("must be a number (got ") + v->type_name() + ")");
    *out = v->get<double>();
  }
  void get_bool(const char* key, bool* out) const {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_boolean()) bad(key, std::string("must be true or false (got ") + v->type_name() + ")");
    *out = v->get<bool>();
  }
};

void read_ddconfig(const Reader& r, IbqConfig* c) {
  r.get_int("ch", &c->ch, true);
  r.get_int_list("ch_mult", &c->ch_mult, true);
  r.get_int("num_res_blocks", &c->num_res_blocks, true);
  r.get_int_list("attn_resolutions", &c->attn_resolutions, true);
  r.get_int("z_channels", &c->z_channels, true);
  r.get_int("in_channels", &c->in_channels, false);
  r.get_int("out_ch", &c->out_ch, false);
  r.get_int("resolution", &c->resolution, false);
  r.get_double("dropout", &c->dropout);
  r.get_bool("double_z", &c->double_z);
  r.get_bool("resamp_with_conv", &c->resamp_with_conv);
}

// n_embed (upstream) and codebook_size (HF) name the same number.
void read_codebook(const Reader& r, IbqConfig* c, const char* preferred, const char* alias) {
  int64_t a = 0, b = 0;
  bool has_a = r.get_int(preferred, &a, false);
  bool has_b = r.get_int(alias, &b, false);
  if (!has_a && !has_b) throw Error(r.src + ": missing required field \"" + preferred + "\" (codebook size)");
  if (has_a && has_b && a != b)
    throw Error(r.src + ": \"" + preferred + "\" (" + std::to_string(a) + ") and \"" + alias + "\" (" +
                std::to_string(b) + ") disagree");
  c->n_embed = has_a ? a : b;
  r.get_int("embed_dim", &c->embed_dim, true);
}

std::string list_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

}  // namespace

bool IbqConfig::encoder_level_has_attention(int level) const {
  int64_t res = resolution;
  for (int l = 0; l < level; ++l) res /= 2;
  return std::find(attn_resolutions.begin(), attn_resolutions.end(), res) != attn_resolutions.end();
}

bool IbqConfig::decoder_level_has_attention(int level) const {
  int64_t res = resolution;
  for (int l = 0; l + 1 < num_levels(); ++l) res /= 2;
  for (int l = num_levels() - 1; l > level; --l) res *= 2;
  return std::find(attn_resolutions.begin(), attn_resolutions.end(), res) != attn_resolutions.end();
}

void IbqConfig::validate(const std::string& src) const {
  auto positive = [&](const char* name, int64_t v, int64_t max) {
    if (v <= 0 || v > max)
      throw Error(src + ": \"" + name + "\" is " + std::to_string(v) + "; expected 1.." + std::to_string(max));
  };
  positive("ch", ch, 1 << 16);
  positive("num_res_blocks", num_res_blocks, 64);
  positive("z_channels", z_channels, 1 << 16);
  positive("embed_dim", embed_dim, 1 << 16);
  positive("n_embed", n_embed, std::numeric_limits<int32_t>::max());
  positive("in_channels", in_channels, 64);
  positive("out_ch", out_ch, 64);
  positive("resolution", resolution, 1 << 20);
  if (ch_mult.empty() || ch_mult.size() > 12)
    throw Error(src + ": \"ch_mult\" must list 1 to 12 levels (got " + std::to_string(ch_mult.size()) + ")");
  for (size_t i = 0; i < ch_mult.size(); ++i) {
    if (ch_mult[i] <= 0 || ch_mult[i] > 64)
      throw Error(src + ": \"ch_mult\"[" + std::to_string(i) + "] is " + std::to_string(ch_mult[i]) + "; expected 1..64");
  }
  // Every block width meets a GroupNorm of 32 groups.
  if (ch % 32 != 0) throw Error(src + ": \"ch\" is " + std::to_string(ch) + "; it must be divisible by 32 (GroupNorm groups)");
  for (int64_t m : ch_mult)
    if ((ch * m) % 32 != 0)
      throw Error(src + ": width ch*ch_mult = " + std::to_string(ch * m) + " is not divisible by 32 (GroupNorm groups)");
  for (int64_t r : attn_resolutions)
    if (r <= 0) throw Error(src + ": \"attn_resolutions\" " + list_str(attn_resolutions) + " must be positive");
  if (!(dropout >= 0.0 && dropout < 1.0)) throw Error(src + ": \"dropout\" must be in [0, 1)");
  if (double_z) throw Error(src + ": \"double_z\" true is not supported (IBQ's quant_conv takes z_channels inputs)");
  if (!resamp_with_conv) throw Error(src + ": \"resamp_with_conv\" false is not supported (IBQ resamples with convolutions)");
}

IbqConfig IbqConfig::from_json_text(const std::string& text, const std::string& src) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(src + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(src + ": expected a JSON object");
  if (auto it = j.find("model_type"); it != j.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>() != kModelType)
      throw Error(src + ": model_type is " + it->dump() + ", expected \"" + kModelType + "\" (an IBQ vision tokenizer)");
  }
  IbqConfig c;
  const json* dd = &j;
  std::string where;
  if (auto it = j.find("ddconfig"); it != j.end() && it->is_object()) {
    dd = &*it;
    where = "ddconfig.";
  }
  read_ddconfig(Reader{*dd, src, where}, &c);
  read_codebook(Reader{j, src, ""}, &c, "codebook_size", "n_embed");
  c.validate(src);
  return c;
}

IbqConfig IbqConfig::from_yaml_text(const std::string& text, const std::string& src) {
  json j;
  try {
    YAML::Node root = YAML::Load(text);
    j = yaml_to_json(root, 0);
  } catch (const YAML::Exception& e) {
    throw Error(src + ": not valid YAML: " + e.what());
  } catch (const Error& e) {
    throw Error(src + ": " + e.what());
  }
  if (!j.is_object()) throw Error(src + ": expected a YAML mapping of IBQ arguments");
  // Unwrap `model: {params: ...}` / `params: ...` as written by training configs.
  for (int k = 0; k < 2 && !j.contains("ddconfig"); ++k) {
    const char* wrapper = j.contains("model") && j["model"].is_object()     ? "model"
                          : j.contains("params") && j["params"].is_object() ? "params"
                                                                            : nullptr;
    if (!wrapper) break;
    json inner = j[wrapper];
    j = std::move(inner);
  }
  if (!j.contains("ddconfig")) throw Error(src + ": missing required field \"ddconfig\"");
  if (!j["ddconfig"].is_object()) throw Error(src + ": field \"ddconfig\" must be a mapping");
  IbqConfig c;
  read_ddconfig(Reader{j["ddconfig"], src, "ddconfig."}, &c);
  read_codebook(Reader{j, src, ""}, &c, "n_embed", "codebook_size");
  c.validate(src);
  return c;
}

IbqConfig IbqConfig::load(const fs::path& path) {
  fs::path file = path;
  if (fs::is_directory(path)) {
    if (fs::exists(path / "config.json")) file = path / "config.json";
    else if (fs::exists(path / "config.yaml")) file = path / "config.yaml";
    else throw Error(path.string() + ": no config.json or config.yaml in the directory");
  }
  std::string text = read_whole_file(file);
  std::string ext = file.extension().string();
  if (ext == ".json") return from_json_text(text, file.string());
  if (ext == ".yaml" || ext == ".yml") return from_yaml_text(text, file.string());
  throw Error(file.string() + ": expected a .json or .yaml IBQ config");
}

std::string IbqConfig::to_json() const {
  nlohmann::ordered_json j;
  j["architectures"] = {"Emu3p5VisionVQModel"};
  j["model_type"] = kModelType;
  j["ch"] = ch;
  j["ch_mult"] = ch_mult;
  j["num_res_blocks"] = num_res_blocks;
  j["attn_resolutions"] = attn_resolutions;
  j["z_channels"] = z_channels;
  j["double_z"] = double_z;
  j["in_channels"] = in_channels;
  j["out_ch"] = out_ch;
  j["resolution"] = resolution;
  j["dropout"] = dropout;
  j["codebook_size"] = n_embed;
  j["embed_dim"] = embed_dim;
  return j.dump(2) + "\n";
}

std::string IbqConfig::to_yaml() const {
  std::ostringstream o;
  o << "ddconfig:\n"
    << "  double_z: " << (double_z ? "true" : "false") << "\n"
    << "  z_channels: " << z_channels << "\n"
    << "  resolution: " << resolution << "\n"
    << "  in_channels: " << in_channels << "\n"
    << "  out_ch: " << out_ch << "\n"
    << "  ch: " << ch << "\n"
    << "  ch_mult: " << list_str(ch_mult) << "\n"
    << "  num_res_blocks: " << num_res_blocks << "\n"
    << "  attn_resolutions: " << list_str(attn_resolutions) << "\n"
    << "  dropout: " << json(dropout).dump() << "\n"
    << "n_embed: " << n_embed << "\n"
    << "embed_dim: " << embed_dim << "\n";
  return o.str();
}

}  // namespace emu35
