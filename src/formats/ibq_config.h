// The IBQ vision tokenizer's configuration, in its two on-disk forms:
//
//  - config.yaml (upstream Emu3.5, read with OmegaConf into IBQ(**kwargs)):
//      ddconfig: {ch, out_ch, ch_mult, num_res_blocks, attn_resolutions, dropout,
//                 resamp_with_conv, in_channels, resolution, z_channels, double_z}
//      n_embed, embed_dim, plus training-only keys (beta, use_entropy_loss, ...)
//    A top-level `params:` or `model: {params: ...}` wrapper is unwrapped.
//
//  - config.json (the Hugging Face form, model_type "Emu3p5VisionVQ"): the same
//    ddconfig keys flat at the top level, with the codebook size called
//    `codebook_size` instead of `n_embed`:
//      {"model_type": "Emu3p5VisionVQ", "ch": 256, "ch_mult": [1,1,2,2,4], ...,
//       "codebook_size": 131072, "embed_dim": 256}
//    This is what BAAI's Emu3.5-VisionTokenizer config.json holds, and what
//    to_json() writes. `n_embed` is accepted as an alias there (and
//    `codebook_size` in YAML); a nested "ddconfig" object is also read.
//
// Required in both forms: ch, ch_mult, num_res_blocks, attn_resolutions,
// z_channels, embed_dim and n_embed/codebook_size. in_channels, out_ch (3),
// resolution (256), dropout (0), double_z (false), resamp_with_conv (true)
// default as in the HF config class. Unknown keys are ignored.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace emu35 {

struct IbqConfig {
  int64_t ch = 0;
  std::vector<int64_t> ch_mult;
  int64_t num_res_blocks = 0;
  std::vector<int64_t> attn_resolutions;
  int64_t z_channels = 0;
  int64_t in_channels = 3;
  int64_t out_ch = 3;
  int64_t resolution = 256;  // only decides which levels get attention
  double dropout = 0.0;      // training only
  bool double_z = false;     // must be false for IBQ (quant_conv takes z_channels)
  bool resamp_with_conv = true;  // must be true (strided conv down, conv after upsample)
  int64_t n_embed = 0;       // codebook size
  int64_t embed_dim = 0;     // codebook vector size

  int num_levels() const { return static_cast<int>(ch_mult.size()); }
  int64_t downsample_factor() const { return int64_t(1) << (ch_mult.size() - 1); }
  int64_t level_channels(int level) const { return ch * ch_mult[static_cast<size_t>(level)]; }
  // Whether level `level` (0 = full resolution) carries attention blocks. As
  // upstream, the encoder halves `resolution` per level from the top while the
  // decoder doubles resolution // 2^(levels-1) from the bottom; the two differ
  // only when resolution is not a multiple of the downsampling factor.
  bool encoder_level_has_attention(int level) const;
  bool decoder_level_has_attention(int level) const;

  // Throws Error naming `source` and the field when a value is unusable
  // (e.g. a width not divisible by the 32 GroupNorm groups).
  void validate(const std::string& source) const;

  static IbqConfig from_yaml_text(const std::string& text, const std::string& source);
  static IbqConfig from_json_text(const std::string& text, const std::string& source);
  // A file (.yaml/.yml or .json), or a directory holding config.json or config.yaml
  // (config.json preferred, matching IbqModel::load).
  static IbqConfig load(const std::filesystem::path& path);

  std::string to_json() const;  // the HF form above; round-trips through from_json_text
  std::string to_yaml() const;  // the upstream form; round-trips through from_yaml_text
};

}  // namespace emu35
