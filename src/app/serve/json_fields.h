// Typed, range-checked reads of a JSON object's fields; every failure is an
// InputError naming the field, so clients learn exactly what to fix.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "app/serve/input_error.h"

namespace emu35::app::serve {

class JsonFields {
 public:
  // `status`: what errors answer (422 for Cog schema errors, 400 for OpenAI).
  JsonFields(const nlohmann::json& obj, int status) : obj_(obj), status_(status) {}

  // Absent and null both read as "not given".
  bool has(const char* key) const { return obj_.contains(key) && !obj_[key].is_null(); }
  const nlohmann::json& raw(const char* key) const { return obj_[key]; }

  std::optional<std::string> str(const char* key) const;
  std::optional<bool> boolean(const char* key) const;
  // Integers (42 or 42.0); [lo, hi] inclusive.
  std::optional<int64_t> integer(const char* key, int64_t lo, int64_t hi) const;
  // Finite numbers in [lo, hi]; lo excluded when lo_open.
  std::optional<double> number(const char* key, double lo, double hi, bool lo_open = false) const;
  // One of `allowed` (exact, lower-case).
  std::optional<std::string> choice(const char* key, const std::set<std::string>& allowed) const;

  // Any field not in `known` is an error.
  void only(const std::set<std::string>& known, const char* hint = nullptr) const;

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw InputError(status_, key, message);
  }

 private:
  const nlohmann::json& obj_;
  int status_;
};

std::string join(const std::set<std::string>& items, const char* sep = ", ");

}  // namespace emu35::app::serve
