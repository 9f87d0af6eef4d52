// The Emu3.5 transformer's weights: config.json plus the memory-mapped safetensors,
// every tensor looked up once, shape-checked and kept in its stored dtype (bf16, f16
// or f32). Only the small norm vectors are copied to float32.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "formats/emu3_config.h"
#include "formats/safetensors.h"

namespace emu35::lm {

// A row-major [rows, cols] weight matrix inside the mapping, in its stored dtype.
struct WeightMatrix {
  const TensorView* tensor = nullptr;
  DType dtype = DType::BF16;
  const uint8_t* data = nullptr;
  int64_t rows = 0;  // output features
  int64_t cols = 0;  // input features
  const std::string& name() const { return tensor->name; }
};

struct LmLayerWeights {
  WeightMatrix q_proj, k_proj, v_proj, o_proj;  // [q_dim,H] [kv_dim,H] [kv_dim,H] [H,q_dim]
  WeightMatrix gate_proj, up_proj, down_proj;   // [I,H] [I,H] [H,I]
  std::vector<float> input_norm, post_attention_norm;  // [H]
  std::vector<float> q_norm, k_norm;                    // [head_dim]
};

class LmWeights {
 public:
  // A checkpoint folder: config.json + model.safetensors or a sharded index.
  static std::shared_ptr<const LmWeights> load(const std::filesystem::path& dir);
  // Validates `tensors` against `config` (every tensor present with the right shape).
  static std::shared_ptr<const LmWeights> from(Emu3Config config, SafeTensors tensors);

  const Emu3Config& config() const { return config_; }
  const SafeTensors& tensors() const { return tensors_; }

  WeightMatrix embed_tokens;  // [V, H]
  WeightMatrix lm_head;       // [V, H]; embed_tokens when tie_word_embeddings
  std::vector<float> final_norm;  // [H]
  std::vector<LmLayerWeights> layers;

 private:
  LmWeights(Emu3Config config, SafeTensors tensors);
  Emu3Config config_;
  SafeTensors tensors_;
};

}  // namespace emu35::lm
