#include "cuda/vq_layers.h"

#include <string>

#include "common/error.h"
#include "cuda/vq_context.h"
#include "cuda/vq_kernels.h"
#include "cuda/vq_profile.h"

namespace emu35::cuda::ibq {

namespace {

void check_conv_input(const DevMap& x, const DConv& conv, const char* what) {
  if (x.c != conv.cin)
    throw Error(std::string(what) + ": the input has " + std::to_string(x.c) + " channels, the convolution takes " +
                std::to_string(conv.cin));
}

}  // namespace

DevMap conv_same(GpuContext& ctx, const DevMap& x, const DConv& conv, const DevMap* residual) {
  check_conv_input(x, conv, "conv_same");
  const ConvShape s{x.c, x.h, x.w, conv.cout, conv.k, conv.k / 2, 1};
  std::string op;  // the profile label, only built when profiling
  if (op_profiling()) op = "conv" + std::to_string(conv.k) + "x" + std::to_string(conv.k) + "->" + std::to_string(conv.cout);
  OpTimer timer(ctx, op.c_str(), x.c, x.h, x.w);
  DevMap y(ctx, conv.cout, s.out_h(), s.out_w());
  if (residual && (residual->c != y.c || residual->h != y.h || residual->w != y.w))
    throw Error("conv_same: the residual's shape differs from the output's");
  ctx.conv().forward(ctx, s, x.data(), conv.weight, y.data(), ctx.math);
  add_bias_residual(y.data(), conv.bias, residual ? residual->data() : nullptr, y.c, y.plane(), ctx.stream());
  return y;
}

DevMap conv_downsample(GpuContext& ctx, const DevMap& x, const DConv& conv) {
  check_conv_input(x, conv, "conv_downsample");
  OpTimer timer(ctx, "downsample conv", x.c, x.h, x.w);
  // cuDNN pads symmetrically only: pad explicitly, then convolve unpadded.
  DevMap padded(ctx, x.c, x.h + 1, x.w + 1);
  pad_right_bottom(x.data(), padded.data(), x.c, x.h, x.w, ctx.stream());
  const ConvShape s{x.c, x.h + 1, x.w + 1, conv.cout, conv.k, 0, 2};
  DevMap y(ctx, conv.cout, s.out_h(), s.out_w());
  ctx.conv().forward(ctx, s, padded.data(), conv.weight, y.data(), ctx.math);
  add_bias_residual(y.data(), conv.bias, nullptr, y.c, y.plane(), ctx.stream());
  return y;
}

DevMap group_norm(GpuContext& ctx, const DevMap& x, const DNorm& norm, int groups, float eps, bool swish) {
  if (norm.channels != x.c)
    throw Error("group_norm: the input has " + std::to_string(x.c) + " channels, the norm has " +
                std::to_string(norm.channels));
  OpTimer timer(ctx, swish ? "group_norm+swish" : "group_norm", x.c, x.h, x.w);
  DevMap y(ctx, x.c, x.h, x.w);
  DevBuffer scratch(ctx, group_norm_scratch_bytes(x.c, x.plane(), groups));
  ibq::group_norm(x.data(), y.data(), x.c, x.plane(), norm.gamma, norm.beta, groups, eps, swish, scratch.get(),
                  ctx.stream());
  return y;
}

DevMap upsample_nearest2x(GpuContext& ctx, const DevMap& x) {
  OpTimer timer(ctx, "upsample", x.c, x.h, x.w);
  DevMap y(ctx, x.c, 2 * x.h, 2 * x.w);
  ibq::upsample_nearest2x(x.data(), y.data(), x.c, x.h, x.w, ctx.stream());
  return y;
}

}  // namespace emu35::cuda::ibq
