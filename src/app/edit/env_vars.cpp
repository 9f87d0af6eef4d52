#include "app/edit/env_vars.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "common/error.h"

namespace emu35::app::edit {

namespace {

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

std::optional<std::string> get(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  if (!v) return std::nullopt;
  std::string s = trim(v);
  if (s.empty()) throw Error(std::string(name) + " is set but empty: unset it to use the default");
  return s;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

}  // namespace

EnvLookup process_env() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

int64_t parse_int_strict(const std::string& text, const std::string& what) {
  const std::string s = trim(text);
  if (s.empty()) throw Error(what + ": expected an integer, got an empty value");
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() || errno == ERANGE)
    throw Error(what + ": expected an integer, got \"" + text + "\"");
  return v;
}

double parse_float_strict(const std::string& text, const std::string& what) {
  const std::string s = trim(text);
  if (s.empty()) throw Error(what + ": expected a number, got an empty value");
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v))
    throw Error(what + ": expected a number, got \"" + text + "\"");
  return v;
}

std::string check_device(const std::string& value, const std::string& what) {
  const std::string v = lower(trim(value));
  if (v == "auto" || v == "cpu" || v == "cuda") return v;
  if (v.rfind("cuda:", 0) == 0 && v.size() > 5 && v.find_first_not_of("0123456789", 5) == std::string::npos)
    return v;
  throw Error(what + ": unknown device \"" + value + "\" (expected auto, cpu, cuda or cuda:N)");
}

Emu35Env read_emu35_env(const EnvLookup& env) {
  Emu35Env e;
  if (auto v = get(env, "DG_EMU35_VQ_PATH")) e.vq_path = *v;
  if (auto v = get(env, "DG_EMU35_TOKENIZER_PATH")) e.tokenizer_path = *v;
  if (auto v = get(env, "DG_EMU35_CFG")) {
    double c = parse_float_strict(*v, "DG_EMU35_CFG");
    if (c < 0) throw Error("DG_EMU35_CFG: guidance must be >= 0, got \"" + *v + "\"");
    e.cfg = static_cast<float>(c);
  }
  if (auto v = get(env, "DG_EMU35_MAX_NEW_TOKENS")) {
    int64_t t = parse_int_strict(*v, "DG_EMU35_MAX_NEW_TOKENS");
    if (t < 1 || t > 1000000) throw Error("DG_EMU35_MAX_NEW_TOKENS: must be 1..1000000, got \"" + *v + "\"");
    e.max_new_tokens = static_cast<int>(t);
  }
  if (auto v = get(env, "DG_EMU35_IMAGE_AREA")) {
    int64_t a = parse_int_strict(*v, "DG_EMU35_IMAGE_AREA");
    if (a < 256 || a > (int64_t(16) << 20))
      throw Error("DG_EMU35_IMAGE_AREA: must be 256..16777216 pixels, got \"" + *v + "\"");
    e.image_area = a;
  }
  if (auto v = get(env, "DG_EMU35_HF_DEVICE")) e.hf_device = check_device(*v, "DG_EMU35_HF_DEVICE");
  if (auto v = get(env, "DG_EMU35_VQ_DEVICE")) e.vq_device = check_device(*v, "DG_EMU35_VQ_DEVICE");
  if (auto v = get(env, "DG_EMU35_VQ_TYPE")) {
    const std::string t = lower(*v);
    if (t == "dcae")
      throw Error("DG_EMU35_VQ_TYPE=dcae: the DC-AE vision decoder is not available (upstream Emu3.5 implements only "
                  "ibq and no DC-AE weights exist); unset the variable or set it to ibq");
    if (t != "ibq") throw Error("DG_EMU35_VQ_TYPE: unknown vision tokenizer type \"" + *v + "\" (only ibq exists)");
    e.vq_type = t;
  }
  if (auto v = get(env, "DG_EMU35_GPUS_PER_MODEL")) {
    int64_t g = parse_int_strict(*v, "DG_EMU35_GPUS_PER_MODEL");
    if (g < 0 || g > 1024) throw Error("DG_EMU35_GPUS_PER_MODEL: must be >= 0, got \"" + *v + "\"");
    e.gpus_per_model = static_cast<int>(g);
  }
  return e;
}

}  // namespace emu35::app::edit
