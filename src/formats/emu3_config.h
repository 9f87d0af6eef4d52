// The Emu3 / Emu3.5 transformer's config.json (Hugging Face, model_type "Emu3").
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace emu35 {

struct Emu3Config {
  // Shape (required: vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads).
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // default: num_attention_heads
  int64_t head_dim = 0;             // default: hidden_size / num_attention_heads
  int64_t max_position_embeddings = 9216;
  double rms_norm_eps = 1e-5;
  double rope_theta = 1e6;
  bool tie_word_embeddings = false;
  std::string hidden_act = "silu";
  std::string torch_dtype = "bfloat16";
  std::string model_type = "Emu3";
  std::vector<std::string> architectures;
  double attention_dropout = 0.0;  // training only
  double initializer_range = 0.02;  // training only
  int64_t pretraining_tp = 1;
  bool use_cache = true;
  int64_t image_area = 518400;
  // Special token ids (defaults are the Emu3.5 tokenizer's).
  int64_t pad_token_id = 151643;
  int64_t bos_token_id = 151849;
  int64_t eos_token_id = 151850;
  int64_t img_token_id = 151851;
  int64_t boi_token_id = 151852;
  int64_t eoi_token_id = 151853;
  int64_t eol_token_id = 151846;
  int64_t eof_token_id = 151847;

  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }

  // Parameter count of the transformer (embedding and lm_head included).
  int64_t num_parameters() const;

  static Emu3Config from_json_text(const std::string& text, const std::string& source);
  static Emu3Config load(const std::filesystem::path& path_or_dir);  // dir -> dir/config.json
  std::string to_json() const;  // round-trips through from_json_text
};

}  // namespace emu35
