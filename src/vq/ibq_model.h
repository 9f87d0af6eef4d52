// The IBQ vision tokenizer (Emu3.5-VisionTokenizer) on the CPU in float32:
// encoder + quant_conv + dot-product codebook argmax for pictures -> codes,
// codebook lookup + post_quant_conv + decoder for codes -> pictures.
//
// A model directory holds a config and weights in either form:
//   config.json (HF, "Emu3p5VisionVQ") or config.yaml (upstream IBQ kwargs), and
//   model.safetensors or model.ckpt (torch.save zip, state dict at top level or
//   under "state_dict").
// When both are present, config.json and model.safetensors are used: they
// load without libzip, and safetensors is memory-mapped. The official
// repository ships both pairs with the same values.
// Loading is strict, as PyTorch's load_state_dict(strict=True): every missing,
// unexpected or wrongly shaped tensor is an Error naming it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "formats/ibq_config.h"
#include "formats/torch_checkpoint.h"
#include "image/image.h"
#include "vq/code_grid.h"
#include "vq/feature_map.h"

namespace emu35::vq {

class IbqModel {
 public:
  static IbqModel load(const std::filesystem::path& dir);
  // Takes the tensors out of `sd`. `source` names the checkpoint in errors.
  static IbqModel from_state_dict(const IbqConfig& config, StateDict sd, const std::string& source);
  // Deterministic random weights (PyTorch's default init ranges), for
  // benchmarks and tests; nothing is read from disk.
  static IbqModel random(const IbqConfig& config, uint64_t seed = 0);

  // Writes config.json + model.safetensors (float32) into dir (created if needed).
  void save(const std::filesystem::path& dir) const;

  const IbqConfig& config() const;
  int64_t num_parameters() const;
  int downsample_factor() const { return int(config().downsample_factor()); }

  // Every parameter with its state-dict name and shape, in module order: for
  // backends that keep their own copy of the weights (the GPU codec).
  using ParameterVisitor =
      std::function<void(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& data)>;
  void for_each_parameter(const ParameterVisitor& fn) const;

  // The state-dict names and shapes a config calls for, in module order.
  static std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const IbqConfig& config);

  // --- encoding: pictures must be smart-resized already (sides multiples of 16) ---
  // RGB8 -> [3, H, W] floats, x / 127.5 - 1 computed in double then rounded, as upstream.
  static FeatureMap pixels_from_image(const Image& img);
  // encoder + quant_conv: [embed_dim, H/16, W/16].
  FeatureMap encode_latent(const FeatureMap& pixels) const;
  FeatureMap encode_latent(const Image& img) const { return encode_latent(pixels_from_image(img)); }
  CodeGrid quantize(const FeatureMap& latent) const;
  CodeGrid encode(const Image& img) const { return quantize(encode_latent(img)); }

  // --- decoding ---
  // codebook rows + post_quant_conv + decoder: [out_ch, 16h, 16w], roughly in [-1, 1].
  // Throws Error for an empty grid or a code outside the codebook.
  FeatureMap decode_float(const CodeGrid& codes) const;
  Image decode(const CodeGrid& codes) const { return image_from_float(decode_float(codes)); }
  // [3, H, W] -> RGB8 as upstream: ((x + 1) * 127.5) in float32, clamped to
  // [0, 255], truncated (not rounded).
  static Image image_from_float(const FeatureMap& x);

  struct Weights;  // the module tree (ibq_model.cpp)

 private:
  explicit IbqModel(std::shared_ptr<const Weights> w) : w_(std::move(w)) {}
  std::shared_ptr<const Weights> w_;
};

}  // namespace emu35::vq
