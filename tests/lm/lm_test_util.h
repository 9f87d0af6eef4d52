// Shared helpers of the transformer tests: the golden file, small configs, and an
// independent double-precision reference forward written straight from the math.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "formats/emu3_config.h"
#include "formats/safetensors.h"

namespace emu35::test {

struct Golden {
  std::vector<int32_t> input_ids, decode_ids;
  std::vector<int64_t> prefill_positions;
  std::vector<float> prefill_final_hidden, prefill_logits, decode_logits;
};
const Golden& golden();  // transformer_golden.safetensors, read once

// A small config with heads * head_dim != hidden and odd sizes (k tails in every kernel).
Emu3Config tiny_config();

// Naive reference: the float32 logits (computed in double) of every position of `ids`
// from a checkpoint folder. Slow; for tiny models only.
std::vector<double> reference_logits(const SafeTensors& st, const Emu3Config& cfg, const std::vector<int32_t>& ids);

}  // namespace emu35::test
