// The IBQ encoder and decoder on the GPU: the weights uploaded once, and the
// forward passes of src/vq/ibq_model.cpp on GPU activations.
#pragma once
#include <cstdint>

#include "cuda/vq_device_map.h"
#include "cuda/vq_weights.h"
#include "vq/ibq_model.h"

namespace emu35::cuda::ibq {

class GpuContext;

class IbqGpu {
 public:
  // Uploads the weights to ctx's device (synchronous). Throws Error when the
  // device lacks the memory.
  IbqGpu(GpuContext& ctx, const vq::IbqModel& model);
  ~IbqGpu();
  IbqGpu(const IbqGpu&) = delete;
  IbqGpu& operator=(const IbqGpu&) = delete;

  const IbqDeviceWeights& weights() const { return w_; }
  size_t weight_bytes() const { return bytes_; }

  // pixels [in_channels, H, W] (sides multiples of the downsampling factor,
  // checked by the caller) -> latent [embed_dim, H/f, W/f]: encoder + quant_conv.
  DevMap encode_latent(const DevMap& pixels);
  // Device codes, h*w int32 (the first-maximum argmax).
  DevBuffer quantize(const DevMap& latent);
  // h*w device codes (checked to be in range by the caller) -> [out_ch, f*h, f*w].
  DevMap decode(const int32_t* codes, int h, int w);

 private:
  GpuContext& ctx_;
  float* dev_ = nullptr;
  size_t bytes_ = 0;
  IbqDeviceWeights w_;
};

}  // namespace emu35::cuda::ibq
