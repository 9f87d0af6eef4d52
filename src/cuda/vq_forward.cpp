#include "cuda/vq_forward.h"

#include <string>
#include <utility>

#include "common/error.h"
#include "cuda/cuda_check.h"
#include "cuda/vq_context.h"
#include "cuda/vq_layers.h"

namespace emu35::cuda::ibq {

namespace {

constexpr int kGroups = 32;  // Normalize(): GroupNorm(32, C, eps=1e-6)
constexpr float kNormEps = 1e-6f;

DevMap norm(GpuContext& ctx, const DevMap& x, const DNorm& n, bool swish) {
  return group_norm(ctx, x, n, kGroups, kNormEps, swish);
}

// GN, swish, conv3x3, GN, swish, conv3x3, + x (or its 1x1 nin_shortcut).
// Intermediates are released as soon as the next one exists, to keep the
// peak at a few activations of the largest level.
DevMap resnet(GpuContext& ctx, const DResnet& b, const DevMap& x) {
  DevMap h;
  {
    DevMap a = norm(ctx, x, b.norm1, true);
    h = conv_same(ctx, a, b.conv1);
  }
  {
    DevMap a = norm(ctx, h, b.norm2, true);  // dropout: identity in eval
    h = DevMap();
    if (b.has_shortcut) {
      DevMap s = conv_same(ctx, x, b.nin_shortcut);
      return conv_same(ctx, a, b.conv2, &s);
    }
    return conv_same(ctx, a, b.conv2, &x);
  }
}

DevMap attn(GpuContext& ctx, const DAttn& a, const DevMap& x) {
  DevMap o;
  {
    DevMap h = norm(ctx, x, a.norm, false);
    DevMap q = conv_same(ctx, h, a.q);
    DevMap k = conv_same(ctx, h, a.k);
    DevMap v = conv_same(ctx, h, a.v);
    h = DevMap();
    o = spatial_attention(ctx, q, k, v);
  }
  return conv_same(ctx, o, a.proj_out, &x);
}

DevMap mid(GpuContext& ctx, const DMid& m, DevMap h) {
  h = resnet(ctx, m.block_1, h);
  h = attn(ctx, m.attn_1, h);
  return resnet(ctx, m.block_2, h);
}

DevMap level(GpuContext& ctx, const DLevel& lv, DevMap h) {
  for (size_t b = 0; b < lv.block.size(); ++b) {
    h = resnet(ctx, lv.block[b], h);
    if (!lv.attn.empty()) h = attn(ctx, lv.attn[b], h);
  }
  return h;
}

}  // namespace

IbqGpu::IbqGpu(GpuContext& ctx, const vq::IbqModel& model) : ctx_(ctx) {
  const WeightLayout layout = WeightLayout::of(model);
  bytes_ = layout.total_floats() * sizeof(float);
  DeviceScope scope(ctx.device());
  const cudaError_t e = cudaMalloc(&dev_, bytes_);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total = 0;
    cudaMemGetInfo(&free_b, &total);
    throw Error("CUDA vision tokenizer: the IBQ weights need " + std::to_string(bytes_ >> 20) + " MiB on device " +
                std::to_string(ctx.device()) + ", " + std::to_string(free_b >> 20) + " MiB are free");
  }
  try {
    w_ = bind_weights(model.config(), layout, dev_);
    upload_weights(model, layout, dev_);
  } catch (...) {
    cudaFree(dev_);
    throw;
  }
}

IbqGpu::~IbqGpu() {
  int prev = -1;
  if (cudaGetDevice(&prev) == cudaSuccess && prev != ctx_.device()) cudaSetDevice(ctx_.device());
  cudaStreamSynchronize(ctx_.stream());
  cudaFree(dev_);
  if (prev >= 0 && prev != ctx_.device()) cudaSetDevice(prev);
}

DevMap IbqGpu::encode_latent(const DevMap& pixels) {
  DevMap h = conv_same(ctx_, pixels, w_.enc_conv_in);
  for (const DLevel& lv : w_.down) {
    h = level(ctx_, lv, std::move(h));
    if (lv.has_resample) h = conv_downsample(ctx_, h, lv.resample);
  }
  h = mid(ctx_, w_.enc_mid, std::move(h));
  h = norm(ctx_, h, w_.enc_norm_out, true);
  h = conv_same(ctx_, h, w_.enc_conv_out);
  return conv_same(ctx_, h, w_.quant_conv);
}

DevBuffer IbqGpu::quantize(const DevMap& latent) {
  const IbqConfig& c = w_.config;
  return codebook_argmax(ctx_, w_.codebook, int(c.n_embed), int(c.embed_dim), latent);
}

DevMap IbqGpu::decode(const int32_t* codes, int h, int w) {
  const IbqConfig& c = w_.config;
  DevMap x = codebook_lookup(ctx_, w_.codebook, int(c.embed_dim), codes, h, w);
  x = conv_same(ctx_, x, w_.post_quant_conv);
  x = conv_same(ctx_, x, w_.dec_conv_in);
  x = mid(ctx_, w_.dec_mid, std::move(x));
  for (int l = c.num_levels() - 1; l >= 0; --l) {
    const DLevel& lv = w_.up[size_t(l)];
    x = level(ctx_, lv, std::move(x));
    if (lv.has_resample) x = conv_same(ctx_, upsample_nearest2x(ctx_, x), lv.resample);
  }
  x = norm(ctx_, x, w_.dec_norm_out, true);
  return conv_same(ctx_, x, w_.dec_conv_out);
}

}  // namespace emu35::cuda::ibq
