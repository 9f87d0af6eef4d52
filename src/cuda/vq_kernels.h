// Launchers of the IBQ codec's own CUDA kernels (vq_norm.cu,
// vq_elementwise.cu, vq_softmax.cu, vq_codebook.cu). All take device
// pointers, queue work on `stream` and return at once; layouts are the
// channel-major [c, h, w] of vq::FeatureMap.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace emu35::cuda::ibq {

// ---- GroupNorm (vq_norm.cu) ----
// Per-group statistics as the CPU's group_norm: mean and biased variance in
// double (chunk partials merged with Chan's formula in a fixed order), then
// y = float(double(x) * scale[c] + shift[c]), scale = gamma * rstd,
// shift = beta - mean * scale; x * sigmoid(x) after it when `swish`.
// `scratch` holds group_norm_scratch_bytes(...) bytes. In place (y == x) is fine.
size_t group_norm_scratch_bytes(int channels, size_t plane, int groups);
void group_norm(const float* x, float* y, int channels, size_t plane, const float* gamma, const float* beta,
                int groups, float eps, bool swish, void* scratch, cudaStream_t stream);

// ---- elementwise (vq_elementwise.cu) ----
// y[c, p] += bias[c] (+ residual[c, p] when residual is not null).
void add_bias_residual(float* y, const float* bias, const float* residual, int channels, size_t plane,
                       cudaStream_t stream);
// out[b, j, i] = in[b, i, j] for `batch` matrices of rows x cols floats:
// [C, H*W] <-> [H*W, C] (channel-major <-> channels-last), and filters
// [cout, cin, k*k] -> [cout, k*k, cin] with batch = cout.
void transpose_batched(const float* in, float* out, int batch, size_t rows, size_t cols, cudaStream_t stream);
// F.interpolate(scale_factor=2, mode="nearest"): y is [c, 2h, 2w].
void upsample_nearest2x(const float* x, float* y, int channels, int h, int w, cudaStream_t stream);
// y [c, h+1, w+1] = x with a zero row below and a zero column on the right
// (the IBQ Downsample padding).
void pad_right_bottom(const float* x, float* y, int channels, int h, int w, cudaStream_t stream);
// RGB8 interleaved [h, w, 3] -> [3, h, w] floats, x / 127.5 - 1 in double then rounded.
void pixels_from_rgb8(const uint8_t* rgb, float* y, size_t plane, cudaStream_t stream);
// [3, h, w] -> RGB8: ((x + 1) * 127.5) in float, clamped to [0, 255] (NaN -> 0), truncated.
void rgb8_from_pixels(const float* x, uint8_t* rgb, size_t plane, cudaStream_t stream);

// ---- attention softmax (vq_softmax.cu) ----
// Each of `rows` rows of length n (row stride n): softmax in place,
// exp(x - max) / sum.
void softmax_rows(float* s, int rows, int n, cudaStream_t stream);

// ---- codebook (vq_codebook.cu) ----
// scores: `positions` rows of `count` values (row stride ld) for codes
// code0 .. code0+count-1. Keeps a running argmax per position over tiles
// given in increasing code order: the first tile (first = true) sets it, a
// later one replaces it only when strictly larger, and within a tile the
// lowest index wins ties, so overall it is torch.argmax (first maximum).
void argmax_update(const float* scores, int positions, int count, int ld, int code0, bool first, float* best_val,
                   int32_t* best_idx, cudaStream_t stream);
// out [dim, n] = codebook rows [n_embed, dim] of codes[0..n) (already checked).
void codebook_lookup(const float* codebook, int dim, const int32_t* codes, int n, float* out, cudaStream_t stream);

}  // namespace emu35::cuda::ibq
