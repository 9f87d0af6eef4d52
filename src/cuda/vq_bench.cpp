// `emu35 bench` rows for the IBQ vision tokenizer on the GPU: decode of 64x64
// codes and encode of a 1024x1024 picture, full-size random weights, each in
// the three math modes (exact fp32, fast fp32, TF32). Floors are FLOPs over
// GEMM peaks measured here (exact SGEMM for the fp32 modes).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "cuda/bench_rows.h"
#include "cuda/cuda_check.h"
#include "cuda/device_info.h"
#include "cuda/vq_codec_cuda.h"
#include "cuda/vq_context.h"
#include "cuda/vq_device_map.h"
#include "cuda/vq_flops.h"
#include "cuda/vq_profile.h"
#include "vq/ibq_model.h"

namespace fs = std::filesystem;

namespace emu35::cuda {

namespace {

constexpr int kCodes = 64;             // 64x64 codes = a 1024x1024 picture
constexpr double kDecodeTarget = 0.5;  // seconds on the H100 (the target)

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <class F>
double median_seconds(int iterations, F&& run) {
  run();  // warm-up: cuDNN algorithm search, cuBLASLt heuristics, pool growth
  std::vector<double> t;
  for (int i = 0; i < std::max(3, iterations); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

// With EMU35_VQ_PROFILE=1: one more (serialised) run, its time per operation on stderr.
template <class F>
void print_profile(const std::string& name, F&& run) {
  if (!ibq::op_profiling()) return;
  ibq::op_profile_report();  // drop what the timed runs accumulated
  run();
  std::fprintf(stderr, "profile of %s:\n%s", name.c_str(), ibq::op_profile_report().c_str());
}

// FLOP/s of a square 8192 float32 GEMM through the same cuBLASLt path as the
// attention, exact or TF32 (median of 5 after a warm-up).
double gemm_peak(int device, bool tf32) {
  ibq::DeviceScope scope(device);
  ibq::GpuContext ctx(device);
  constexpr int n = 8192;
  const size_t bytes = size_t(n) * n * sizeof(float);
  // Varied operands: zeros would run cooler, hence faster, than real data.
  std::vector<float> host(size_t(n) * n);
  for (size_t i = 0; i < host.size(); ++i) host[i] = float(((i * 2654435761u) >> 20) % 2001) * 1e-3f - 1.0f;
  ibq::DevBuffer a = ibq::upload_vector(ctx, host), b = ibq::upload_vector(ctx, host), c(ctx, bytes);
  cudaEvent_t e0, e1;
  EMU35_CUDA_CHECK(cudaEventCreate(&e0));
  EMU35_CUDA_CHECK(cudaEventCreate(&e1));
  std::vector<double> t;
  for (int i = 0; i < 6; ++i) {
    EMU35_CUDA_CHECK(cudaEventRecord(e0, ctx.stream()));
    ctx.gemm().run(ctx, false, false, n, n, n, 1.0f, a.as<float>(), n, b.as<float>(), n, 0.0f, c.as<float>(), n, tf32);
    EMU35_CUDA_CHECK(cudaEventRecord(e1, ctx.stream()));
    EMU35_CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    EMU35_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    if (i) t.push_back(double(ms) * 1e-3);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return 2.0 * n * double(n) * n / median(t);
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

}  // namespace

std::vector<BenchRow> bench_vq(const BenchConfig& cfg) {
  if (device_count() == 0) throw Error("bench_vq: no CUDA GPU is visible");
  const fs::path yaml = fs::path(cfg.shared_dir) / "configs" / "emu3.5-visiontokenizer.yaml";
  const IbqConfig config = IbqConfig::load(yaml);
  const double peak32 = gemm_peak(cfg.device, false);
  const double peak_tf32 = gemm_peak(cfg.device, true);
  const std::string peaks = fmt("FP32 %.1f / TF32 %.1f TFLOP/s (cuBLASLt 8192^3 SGEMM, measured)", peak32 * 1e-12,
                                peak_tf32 * 1e-12);

  auto model = std::make_shared<const vq::IbqModel>(vq::IbqModel::random(config, 1));
  CudaVqCodec codec(model, cfg.device);

  vq::CodeGrid codes{kCodes, kCodes, {}};
  uint64_t s = 0x243f6a8885a308d3ull;
  for (int i = 0; i < kCodes * kCodes; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    codes.codes.push_back(int32_t((s >> 33) % uint64_t(config.n_embed)));
  }
  const int f = int(config.downsample_factor());
  const IbqFlops dec = ibq_decode_flops(config, kCodes, kCodes);
  const IbqFlops enc = ibq_encode_flops(config, kCodes * f, kCodes * f);
  const std::string dec_name = "IBQ decode " + std::to_string(kCodes) + "x" + std::to_string(kCodes) + " codes";
  const std::string enc_name =
      "IBQ encode " + std::to_string(kCodes * f) + "x" + std::to_string(kCodes * f) + " picture";

  std::vector<BenchRow> rows;
  Image exact_picture;  // the exact decode: the picture every encode row takes
  vq::CodeGrid exact_codes;
  for (VqMath math : {VqMath::kExact, VqMath::kFastFp32, VqMath::kTf32}) {
    const std::string mode = std::string(" (") + vq_math_name(math) + ")";
    const bool exact = math == VqMath::kExact;
    codec.set_options(CudaCodecOptions{math, math});
    const double peak = math == VqMath::kTf32 ? peak_tf32 : peak32;

    BenchRow d;
    d.name = dec_name + mode;
    Image img;
    d.measured_s = median_seconds(cfg.iterations, [&] { img = codec.decode(codes); });
    print_profile(d.name, [&] { codec.decode(codes); });
    d.floor_s = dec.total() / peak;
    d.basis = fmt("%.2f TFLOP / ", dec.total() * 1e-12) + peaks;
    if (exact) {
      exact_picture = img;
    } else {
      int max_diff = 0;
      size_t differ = 0;
      for (size_t i = 0; i < img.rgb.size(); ++i) {
        const int diff = std::abs(int(img.rgb[i]) - int(exact_picture.rgb[i]));
        max_diff = std::max(max_diff, diff);
        differ += diff > 1;
      }
      d.basis += fmt("; pixels vs fp32: max diff %.0f, %.4f%% of values off by more than 1", max_diff,
                     100.0 * double(differ) / double(img.rgb.size()));
    }
    d.target = "<= 0.5 s";
    d.meets_target = d.measured_s <= kDecodeTarget;
    rows.push_back(d);

    BenchRow e;
    e.name = enc_name + mode;
    vq::CodeGrid got;
    e.measured_s = median_seconds(cfg.iterations, [&] { got = codec.encode(exact_picture); });
    print_profile(e.name, [&] { codec.encode(exact_picture); });
    // The codebook search is exact float32 in every mode.
    e.floor_s = (enc.conv + enc.attention) / peak + enc.codebook / peak32;
    e.basis = fmt("%.2f TFLOP (%.3f of it codebook, always fp32) / ", enc.total() * 1e-12, enc.codebook * 1e-12) +
              peaks;
    if (exact) {
      exact_codes = got;
    } else {
      size_t same = 0;
      for (size_t i = 0; i < got.codes.size(); ++i) same += got.codes[i] == exact_codes.codes[i];
      e.basis += fmt("; codes equal to fp32: %.2f%%", 100.0 * double(same) / double(got.codes.size()));
    }
    e.target = "none (reported)";
    e.meets_target = true;
    rows.push_back(e);
  }
  return rows;
}

}  // namespace emu35::cuda
