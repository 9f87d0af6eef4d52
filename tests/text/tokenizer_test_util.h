// Shared by the tokenizer tests: the fixture tokenizer (loaded once) and the
// fixture cases file.
#pragma once
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "text/tokenizer.h"

namespace emu35::test {

inline const Tokenizer& fixture_tokenizer() {
  static const Tokenizer tk = Tokenizer::load(fixture("model"));
  return tk;
}

inline const nlohmann::json& tokenizer_cases() {
  static const nlohmann::json j = nlohmann::json::parse(read_file(fixture("tokenizer_cases.json")));
  return j;
}

}  // namespace emu35::test
