// Arithmetic of the IBQ encoder and decoder (multiply-adds count 2), for the
// benchmark floors: convolutions, attention GEMMs, codebook dot products.
// Normalisation and elementwise work is left out (memory-bound, small).
#pragma once
#include "formats/ibq_config.h"

namespace emu35::cuda {

struct IbqFlops {
  double conv = 0;       // every Conv2d, 1x1 ones included
  double attention = 0;  // q^T k and softmax(.) v: 4 * N^2 * C per block
  double codebook = 0;   // 2 * N * n_embed * embed_dim (encoding only)
  double total() const { return conv + attention + codebook; }
};

// A height x width picture (multiples of the downsampling factor) -> codes.
IbqFlops ibq_encode_flops(const IbqConfig& c, int height, int width);
// An h x w code grid -> a picture.
IbqFlops ibq_decode_flops(const IbqConfig& c, int h, int w);

}  // namespace emu35::cuda
