// The full-size IBQ (455M parameters, the shared config) with random weights
// on real pictures: the GPU's codes against the CPU's (fraction equal,
// asserted >= 0.99 and printed), and the decoded floats and pixels. Also
// reports how far the fast float32 and TF32 modes move codes and pixels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "cuda/vq_codec_cuda.h"
#include "formats/ibq_config.h"
#include "image/image_read.h"
#include "image/resize.h"
#include "test_cuda_vq_util.h"
#include "test_support.h"
#include "vq/ibq_model.h"

namespace emu35::cuda {
namespace {

using ibq::vqtest::rel_err;

constexpr int64_t kArea = 256 * 256;  // ref_0 -> 320x208, ref_1 -> 208x320: 260 codes each

double fraction_equal(const vq::CodeGrid& a, const vq::CodeGrid& b) {
  EXPECT_EQ(a.codes.size(), b.codes.size());
  size_t same = 0;
  for (size_t i = 0; i < std::min(a.codes.size(), b.codes.size()); ++i) same += a.codes[i] == b.codes[i];
  return a.codes.empty() ? 0.0 : double(same) / double(a.codes.size());
}

struct PixelDiff {
  int max = 0;
  double over_one = 0;  // fraction of values off by more than 1
};

PixelDiff pixel_diff(const Image& a, const Image& b) {
  PixelDiff d;
  EXPECT_EQ(a.rgb.size(), b.rgb.size());
  size_t over = 0;
  for (size_t i = 0; i < std::min(a.rgb.size(), b.rgb.size()); ++i) {
    const int v = std::abs(int(a.rgb[i]) - int(b.rgb[i]));
    d.max = std::max(d.max, v);
    over += v > 1;
  }
  d.over_one = a.rgb.empty() ? 0.0 : double(over) / double(a.rgb.size());
  return d;
}

TEST(CudaVqFullSize, CodesAgreeWithCpuOnRealPictures) {
  EMU35_SKIP_WITHOUT_GPU();
  const IbqConfig cfg =
      IbqConfig::load(test::fixtures_dir().parent_path().parent_path() / "configs" / "emu3.5-visiontokenizer.yaml");
  auto model = std::make_shared<const vq::IbqModel>(vq::IbqModel::random(cfg, 7));
  CudaVqCodec gpu(model, 0);
  size_t same = 0, total = 0;
  for (const char* name : {"ref_0", "ref_1"}) {
    SCOPED_TRACE(name);
    const Image img = smart_resize(read_image(test::fixture(std::string("images/") + name + ".png")), kArea);
    const vq::FeatureMap cpu_latent = model->encode_latent(img);
    const vq::CodeGrid cpu_codes = model->quantize(cpu_latent);
    const vq::FeatureMap gpu_latent = gpu.encode_latent(img);
    const double lat_err = rel_err(gpu_latent, cpu_latent);
    EXPECT_LE(lat_err, 1e-4);
    const vq::CodeGrid gpu_codes = gpu.encode(img);
    const double agree = fraction_equal(gpu_codes, cpu_codes);
    same += size_t(agree * double(cpu_codes.codes.size()) + 0.5);
    total += cpu_codes.codes.size();
    // The GPU argmax on the CPU's latent: only the dot products differ.
    const double agree_argmax = fraction_equal(gpu.quantize(cpu_latent), cpu_codes);
    EXPECT_GE(agree_argmax, 0.99);

    // Decoding the CPU's codes.
    const vq::FeatureMap cpu_dec = model->decode_float(cpu_codes);
    const vq::FeatureMap gpu_dec = gpu.decode_float(cpu_codes);
    const double dec_err = rel_err(gpu_dec, cpu_dec);
    EXPECT_LE(dec_err, 1e-4);
    const Image cpu_png = vq::IbqModel::image_from_float(cpu_dec);
    const PixelDiff px = pixel_diff(gpu.decode(cpu_codes), cpu_png);
    EXPECT_LE(px.max, 1);

    // The faster modes, reported (not bounded: deciding on them is what the numbers are for).
    gpu.set_options({VqMath::kFastFp32, VqMath::kFastFp32});
    const double agree_fast = fraction_equal(gpu.encode(img), cpu_codes);
    const PixelDiff px_fast = pixel_diff(gpu.decode(cpu_codes), cpu_png);
    gpu.set_options({VqMath::kTf32, VqMath::kTf32});
    const double agree_tf32 = fraction_equal(gpu.encode(img), cpu_codes);
    const PixelDiff px_tf32 = pixel_diff(gpu.decode(cpu_codes), cpu_png);
    gpu.set_options({});

    std::printf(
        "[ full-size IBQ, %s %dx%d ] fp32: codes equal to CPU %.4f (argmax alone %.4f), latent rel err %.2e, "
        "decoded rel err %.2e, max pixel diff %d | fp32-fast: codes %.4f, pixels max %d (%.4f%% > 1) | "
        "tf32: codes %.4f, pixels max %d (%.4f%% > 1)\n",
        name, img.width, img.height, agree, agree_argmax, lat_err, dec_err, px.max, agree_fast, px_fast.max,
        100 * px_fast.over_one, agree_tf32, px_tf32.max, 100 * px_tf32.over_one);
    ::testing::Test::RecordProperty(std::string("codes_equal_fp32_") + name, std::to_string(agree));
    ::testing::Test::RecordProperty(std::string("codes_equal_tf32_") + name, std::to_string(agree_tf32));
  }
  const double overall = double(same) / double(total);
  std::printf("[ full-size IBQ ] GPU codes equal to CPU codes: %zu of %zu (%.4f)\n", same, total, overall);
  EXPECT_GE(overall, 0.99);
}

}  // namespace
}  // namespace emu35::cuda
