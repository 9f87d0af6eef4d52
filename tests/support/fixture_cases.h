// The fixtures' end-to-end cases (cases.json) and model, shared by the CPU and
// GPU generation parity tests.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>

#include "gen/generator.h"
#include "lm/lm_weights.h"

namespace emu35::test {

const nlohmann::json& fixture_cases();                   // cases.json, parsed once
std::shared_ptr<const lm::LmWeights> fixture_lm_weights();  // fixtures/model, loaded once
// A case's ids and settings as a GenerationRequest (greedy: top-k as given, seed 1234).
GenerationRequest generation_request_from_case(const nlohmann::json& c);

}  // namespace emu35::test
