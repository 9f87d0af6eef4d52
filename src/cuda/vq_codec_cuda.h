// The IBQ vision tokenizer on one GPU, behind the engine's VqCodec interface,
// with the extra entry points tests and benchmarks use.
#pragma once
#include <memory>

#include "cuda/vq_math_mode.h"
#include "image/image.h"
#include "vq/code_grid.h"
#include "vq/feature_map.h"
#include "vq/ibq_model.h"
#include "vq/vq_codec.h"

namespace emu35::cuda {

struct CudaCodecOptions {
  // The encoder stays exact by default: codes equal the CPU's (upstream keeps
  // the tokenizer in fp32 because lower precision flips codes).
  VqMath encoder = VqMath::kExact;
  // The decoder: exact here; the Engine's bf16 precision picks TF32, which
  // is PyTorch's default for cuDNN convolutions (so upstream decodes in TF32
  // on a GPU), 5.5x faster, and measured within 1 per channel of the exact
  // picture (`emu35 bench`; docs/cuda-vq.md).
  VqMath decoder = VqMath::kExact;
};

class CudaVqCodec final : public vq::VqCodec {
 public:
  // Uploads the weights once. Throws Error for a missing device or too little memory.
  CudaVqCodec(std::shared_ptr<const vq::IbqModel> model, int device, CudaCodecOptions options = {});
  ~CudaVqCodec() override;

  const vq::IbqModel& model() const override;
  // Calls are serialised by a mutex; each returns its memory to the device
  // when done (the weights stay).
  vq::CodeGrid encode(const Image& img) const override;
  Image decode(const vq::CodeGrid& codes) const override;

  // encoder + quant_conv, as IbqModel::encode_latent.
  vq::FeatureMap encode_latent(const Image& img) const;
  vq::FeatureMap encode_latent(const vq::FeatureMap& pixels) const;
  // The codebook argmax of a latent, as IbqModel::quantize.
  vq::CodeGrid quantize(const vq::FeatureMap& latent) const;
  // As IbqModel::decode_float.
  vq::FeatureMap decode_float(const vq::CodeGrid& codes) const;

  void set_options(const CudaCodecOptions& options);
  CudaCodecOptions options() const;
  int device() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::unique_ptr<CudaVqCodec> make_cuda_vq_codec(std::shared_ptr<const vq::IbqModel> model, int device,
                                                CudaCodecOptions options = {});

}  // namespace emu35::cuda
