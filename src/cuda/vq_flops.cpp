#include "cuda/vq_flops.h"

namespace emu35::cuda {

namespace {

double conv(double cin, double cout, double k, double pixels) { return 2.0 * cin * cout * k * k * pixels; }

void resnet(IbqFlops& f, double cin, double cout, double pixels) {
  f.conv += conv(cin, cout, 3, pixels) + conv(cout, cout, 3, pixels);
  if (cin != cout) f.conv += conv(cin, cout, 1, pixels);
}

void attn(IbqFlops& f, double ch, double pixels) {
  f.conv += 4 * conv(ch, ch, 1, pixels);  // q, k, v, proj_out
  f.attention += 4.0 * pixels * pixels * ch;
}

void mid(IbqFlops& f, double ch, double pixels) {
  resnet(f, ch, ch, pixels);
  attn(f, ch, pixels);
  resnet(f, ch, ch, pixels);
}

}  // namespace

IbqFlops ibq_encode_flops(const IbqConfig& c, int height, int width) {
  IbqFlops f;
  double hh = height, ww = width;
  f.conv += conv(double(c.in_channels), double(c.ch), 3, hh * ww);
  double block_in = double(c.ch);
  const int levels = c.num_levels();
  for (int l = 0; l < levels; ++l) {
    const double block_out = double(c.level_channels(l));
    for (int b = 0; b < c.num_res_blocks; ++b) {
      resnet(f, block_in, block_out, hh * ww);
      block_in = block_out;
      if (c.encoder_level_has_attention(l)) attn(f, block_in, hh * ww);
    }
    if (l != levels - 1) {
      hh /= 2;
      ww /= 2;
      f.conv += conv(block_in, block_in, 3, hh * ww);  // stride 2: output pixels
    }
  }
  mid(f, block_in, hh * ww);
  f.conv += conv(block_in, double(c.z_channels), 3, hh * ww);
  f.conv += conv(double(c.z_channels), double(c.embed_dim), 1, hh * ww);
  f.codebook = 2.0 * hh * ww * double(c.n_embed) * double(c.embed_dim);
  return f;
}

IbqFlops ibq_decode_flops(const IbqConfig& c, int h, int w) {
  IbqFlops f;
  double hh = h, ww = w;
  const int levels = c.num_levels();
  double block_in = double(c.level_channels(levels - 1));
  f.conv += conv(double(c.embed_dim), double(c.z_channels), 1, hh * ww);
  f.conv += conv(double(c.z_channels), block_in, 3, hh * ww);
  mid(f, block_in, hh * ww);
  for (int l = levels - 1; l >= 0; --l) {
    const double block_out = double(c.level_channels(l));
    for (int b = 0; b < c.num_res_blocks + 1; ++b) {
      resnet(f, block_in, block_out, hh * ww);
      block_in = block_out;
      if (c.decoder_level_has_attention(l)) attn(f, block_in, hh * ww);
    }
    if (l != 0) {
      hh *= 2;
      ww *= 2;
      f.conv += conv(block_in, block_in, 3, hh * ww);
    }
  }
  f.conv += conv(block_in, double(c.out_ch), 3, hh * ww);
  return f;
}

}  // namespace emu35::cuda
