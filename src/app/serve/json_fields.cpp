#include "app/serve/json_fields.h"

#include <cmath>

using nlohmann::json;

namespace emu35::app::serve {

namespace {
std::string show(const json& v) {
  std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}
}  // namespace

std::string join(const std::set<std::string>& items, const char* sep) {
  std::string out;
  for (auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::optional<std::string> JsonFields::str(const char* key) const {
  if (!has(key)) return std::nullopt;
  const json& v = obj_[key];
  if (!v.is_string()) fail(key, std::string("must be a string, got ") + v.type_name());
  return v.get<std::string>();
}

std::optional<bool> JsonFields::boolean(const char* key) const {
  if (!has(key)) return std::nullopt;
  const json& v = obj_[key];
  if (!v.is_boolean()) fail(key, std::string("must be true or false, got ") + show(v));
  return v.get<bool>();
}

std::optional<int64_t> JsonFields::integer(const char* key, int64_t lo, int64_t hi) const {
  if (!has(key)) return std::nullopt;
  const json& v = obj_[key];
  const std::string range = "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
  int64_t x;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) fail(key, "must be " + range + ", got " + show(v));
    x = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    x = v.get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) fail(key, "must be " + range + ", got " + show(v));
    x = static_cast<int64_t>(d);
  } else {
    fail(key, "must be " + range + ", got " + std::string(v.type_name()));
  }
  if (x < lo || x > hi) fail(key, "must be " + range + ", got " + std::to_string(x));
  return x;
}

std::optional<double> JsonFields::number(const char* key, double lo, double hi, bool lo_open) const {
  if (!has(key)) return std::nullopt;
  const json& v = obj_[key];
  auto range = [&] {
    auto f = [](double d) {
      std::string s = std::to_string(d);
      s.erase(s.find_last_not_of('0') + 1);
      if (!s.empty() && s.back() == '.') s.pop_back();
      return s;
    };
    return std::string("a number ") + (lo_open ? "> " : ">= ") + f(lo) + " and <= " + f(hi);
  };
  if (!v.is_number()) fail(key, "must be " + range() + ", got " + std::string(v.type_name()));
  const double d = v.get<double>();
  if (!std::isfinite(d) || (lo_open ? d <= lo : d < lo) || d > hi) fail(key, "must be " + range() + ", got " + show(v));
  return d;
}

std::optional<std::string> JsonFields::choice(const char* key, const std::set<std::string>& allowed) const {
  auto s = str(key);
  if (s && !allowed.count(*s)) fail(key, "must be one of " + join(allowed) + ", got \"" + s->substr(0, 40) + "\"");
  return s;
}

void JsonFields::only(const std::set<std::string>& known, const char* hint) const {
  for (auto& [k, v] : obj_.items())
    if (!known.count(k)) {
      const std::string tail = hint ? std::string(hint) : " (accepted: " + join(known) + ")";
      fail(k.substr(0, 64), "unknown field" + tail);
    }
}

}  // namespace emu35::app::serve
