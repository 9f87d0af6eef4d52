#include "cuda/vq_codec_cuda.h"

#include <mutex>
#include <string>

#include "common/error.h"
#include "cuda/cuda_backend.h"
#include "cuda/device_info.h"
#include "cuda/vq_context.h"
#include "cuda/vq_forward.h"
#include "cuda/vq_kernels.h"

namespace emu35::cuda {

using ibq::DevBuffer;
using ibq::DevMap;

namespace {

// The same checks and messages as IbqModel::encode_latent.
void check_pixels(const IbqConfig& c, int channels, int w, int h) {
  const int64_t f = c.downsample_factor();
  if (channels != c.in_channels)
    throw Error("IBQ encode: the input has " + std::to_string(channels) + " channels, the model expects " +
                std::to_string(c.in_channels));
  if (h <= 0 || w <= 0 || h % f || w % f)
    throw Error("IBQ encode: a " + std::to_string(w) + "x" + std::to_string(h) + " picture does not divide into " +
                std::to_string(f) + "x" + std::to_string(f) + " patches (smart-resize it first)");
}

// The same checks and messages as IbqModel::decode_float.
void check_codes(const IbqConfig& c, const vq::CodeGrid& g) {
  if (g.h <= 0 || g.w <= 0 || g.codes.size() != size_t(g.h) * size_t(g.w))
    throw Error("IBQ decode: the code grid is empty or not " + std::to_string(g.h) + "x" + std::to_string(g.w));
  for (size_t i = 0; i < g.codes.size(); ++i)
    if (g.codes[i] < 0 || g.codes[i] >= c.n_embed)
      throw Error("IBQ decode: code " + std::to_string(g.codes[i]) + " at row " + std::to_string(i / size_t(g.w)) +
                  ", column " + std::to_string(i % size_t(g.w)) + " is outside the codebook [0, " +
                  std::to_string(c.n_embed) + ")");
}

}  // namespace

struct CudaVqCodec::Impl {
  std::shared_ptr<const vq::IbqModel> model;
  mutable std::mutex mu;
  CudaCodecOptions options;
  ibq::GpuContext ctx;
  ibq::IbqGpu net;

  Impl(std::shared_ptr<const vq::IbqModel> m, int device, CudaCodecOptions o)
      : model(std::move(m)), options(o), ctx(device), net(ctx, *model) {}

  // Gives the activations' memory back however a call ends.
  struct CallScope {
    ibq::GpuContext& ctx;
    ibq::DeviceScope device;
    explicit CallScope(ibq::GpuContext& c) : ctx(c), device(c.device()) {}
    ~CallScope() {
      try {
        ctx.release_cached_memory();
      } catch (...) {
      }
    }
  };

  DevMap pixels_from_image(const Image& img) {
    check_image(img, "IBQ encoder input");
    check_pixels(model->config(), 3, img.width, img.height);
    DevBuffer rgb = ibq::upload_vector(ctx, img.rgb);
    DevMap x(ctx, 3, img.height, img.width);
    ibq::pixels_from_rgb8(rgb.as<uint8_t>(), x.data(), x.plane(), ctx.stream());
    return x;
  }

  DevMap latent(const DevMap& pixels) {
    ctx.math = options.encoder;
    return net.encode_latent(pixels);
  }

  vq::CodeGrid codes(const DevMap& latent) {
    DevBuffer idx = net.quantize(latent);
    vq::CodeGrid g;
    g.h = latent.h;
    g.w = latent.w;
    g.codes = ibq::download_vector<int32_t>(ctx, idx, latent.plane());
    return g;
  }

  DevMap decoded(const vq::CodeGrid& g) {
    check_codes(model->config(), g);
    DevBuffer codes = ibq::upload_vector(ctx, g.codes);
    ctx.math = options.decoder;
    return net.decode(codes.as<int32_t>(), g.h, g.w);
  }
};

CudaVqCodec::CudaVqCodec(std::shared_ptr<const vq::IbqModel> model, int device, CudaCodecOptions options) {
  if (!model) throw Error("CUDA vision tokenizer: no model");
  const int n = device_count();
  if (n == 0) throw Error("CUDA vision tokenizer: no CUDA GPU is visible (use the CPU vision tokenizer)");
  if (device < 0 || device >= n)
    throw Error("CUDA vision tokenizer: device cuda:" + std::to_string(device) + " does not exist (" +
                std::to_string(n) + " visible)");
  impl_ = std::make_unique<Impl>(std::move(model), device, options);
}

CudaVqCodec::~CudaVqCodec() = default;

const vq::IbqModel& CudaVqCodec::model() const { return *impl_->model; }

vq::CodeGrid CudaVqCodec::encode(const Image& img) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::CallScope call(impl_->ctx);
  return impl_->codes(impl_->latent(impl_->pixels_from_image(img)));
}

Image CudaVqCodec::decode(const vq::CodeGrid& codes) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const IbqConfig& c = impl_->model->config();
  if (c.out_ch != 3)
    throw Error("IBQ decode: " + std::to_string(c.out_ch) + " output channels cannot make an RGB picture");
  Impl::CallScope call(impl_->ctx);
  DevMap x = impl_->decoded(codes);
  DevBuffer rgb(impl_->ctx, x.plane() * 3);
  ibq::rgb8_from_pixels(x.data(), rgb.as<uint8_t>(), x.plane(), impl_->ctx.stream());
  Image img = Image::blank(x.w, x.h);
  ibq::copy_to_host(impl_->ctx, img.rgb.data(), rgb.get(), img.rgb.size());
  return img;
}

vq::FeatureMap CudaVqCodec::encode_latent(const Image& img) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::CallScope call(impl_->ctx);
  return ibq::download(impl_->ctx, impl_->latent(impl_->pixels_from_image(img)));
}

vq::FeatureMap CudaVqCodec::encode_latent(const vq::FeatureMap& pixels) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  check_pixels(impl_->model->config(), pixels.c, pixels.w, pixels.h);
  Impl::CallScope call(impl_->ctx);
  return ibq::download(impl_->ctx, impl_->latent(ibq::upload(impl_->ctx, pixels)));
}

vq::CodeGrid CudaVqCodec::quantize(const vq::FeatureMap& latent) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const IbqConfig& c = impl_->model->config();
  if (latent.c != c.embed_dim)
    throw Error("IBQ quantize: the latent has " + std::to_string(latent.c) + " channels, the codebook " +
                std::to_string(c.embed_dim));
  Impl::CallScope call(impl_->ctx);
  return impl_->codes(ibq::upload(impl_->ctx, latent));
}

vq::FeatureMap CudaVqCodec::decode_float(const vq::CodeGrid& codes) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl::CallScope call(impl_->ctx);
  return ibq::download(impl_->ctx, impl_->decoded(codes));
}

void CudaVqCodec::set_options(const CudaCodecOptions& options) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->options = options;
}

CudaCodecOptions CudaVqCodec::options() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->options;
}

int CudaVqCodec::device() const { return impl_->ctx.device(); }

std::unique_ptr<CudaVqCodec> make_cuda_vq_codec(std::shared_ptr<const vq::IbqModel> model, int device,
                                                CudaCodecOptions options) {
  return std::make_unique<CudaVqCodec>(std::move(model), device, options);
}

std::unique_ptr<vq::VqCodec> make_cuda_codec(std::shared_ptr<const vq::IbqModel> model, int device,
                                             bool tf32_decoder) {
  CudaCodecOptions o;
  if (tf32_decoder) o.decoder = VqMath::kTf32;
  return make_cuda_vq_codec(std::move(model), device, o);
}

}  // namespace emu35::cuda
