// The IBQ weights on the GPU: every tensor of the model in one device
// allocation (WeightLayout says where), and the module tree of pointers into
// it that the forward pass walks (IbqDeviceWeights), bound by state-dict name
// so it cannot drift from the CPU model's tree.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "formats/ibq_config.h"
#include "vq/ibq_model.h"

namespace emu35::cuda::ibq {

struct TensorSlot {
  std::vector<int64_t> shape;
  size_t offset = 0;  // in floats from the start of the allocation, a multiple of 64 (256 bytes)
  size_t count = 0;
};

class WeightLayout {
 public:
  static WeightLayout of(const vq::IbqModel& model);

  // Error naming the tensor when it is missing or not of `shape`.
  const TensorSlot& at(const std::string& name, const std::vector<int64_t>& shape) const;
  const std::map<std::string, TensorSlot>& slots() const { return slots_; }
  size_t total_floats() const { return total_; }

 private:
  std::map<std::string, TensorSlot> slots_;
  size_t total_ = 0;
};

struct DConv {
  int cin = 0, cout = 0, k = 1;
  const float* weight = nullptr;  // [cout, cin, k, k]
  const float* bias = nullptr;    // [cout]
};

struct DNorm {
  int channels = 0;
  const float* gamma = nullptr;
  const float* beta = nullptr;
};

struct DResnet {
  DNorm norm1, norm2;
  DConv conv1, conv2;
  bool has_shortcut = false;
  DConv nin_shortcut;
};

struct DAttn {
  DNorm norm;
  DConv q, k, v, proj_out;
};

struct DLevel {
  std::vector<DResnet> block;
  std::vector<DAttn> attn;    // empty, or one per block
  bool has_resample = false;  // encoder: downsample; decoder: upsample
  DConv resample;
};

struct DMid {
  DResnet block_1, block_2;
  DAttn attn_1;
};

struct IbqDeviceWeights {
  IbqConfig config;
  DConv enc_conv_in;
  std::vector<DLevel> down;
  DMid enc_mid;
  DNorm enc_norm_out;
  DConv enc_conv_out;
  DConv quant_conv, post_quant_conv;
  const float* codebook = nullptr;  // [n_embed, embed_dim]
  DConv dec_conv_in;
  DMid dec_mid;
  std::vector<DLevel> up;  // indexed by level, processed top-down
  DNorm dec_norm_out;
  DConv dec_conv_out;
};

// The tree for `config` with pointers `base + slot.offset`. Throws Error when
// a tensor is missing or misshapen, or when the layout holds a tensor the
// tree does not use. `base` is only offset, never read: a host pointer works
// too (tests check the binding without a GPU).
IbqDeviceWeights bind_weights(const IbqConfig& config, const WeightLayout& layout, const float* base);

// Copies every tensor of `model` to `device_base` (layout.total_floats()
// floats of device memory) at its slot; synchronous.
void upload_weights(const vq::IbqModel& model, const WeightLayout& layout, float* device_base);

}  // namespace emu35::cuda::ibq
