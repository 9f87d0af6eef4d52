// `emu35 bench`: GPU benchmarks at the real model shapes with random weights,
// each row next to the hardware floor measured in the same process.
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "app/command.h"
#include "common/error.h"
#ifdef EMU35_HAVE_CUDA
#include "cuda/bench_rows.h"
#include "cuda/device_info.h"
#include "cuda/lm_bench.h"
#endif

namespace emu35::app {
namespace {

struct BenchArgs {
  std::string device = "cuda";
  std::string shared = "../shared";
  std::vector<std::string> only;
  bool e2e = false;
  int iterations = 10;
  int layers = 0;
};

#ifdef EMU35_HAVE_CUDA
std::string seconds(double s) {
  char buf[64];
  if (s <= 0) return "-";
  if (s < 1e-3)
    std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  else if (s < 1.0)
    std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

void print_table(const std::vector<cuda::BenchRow>& rows) {
  std::printf("\n| row | measured | floor | ratio | target | ok |\n|---|---|---|---|---|---|\n");
  for (const cuda::BenchRow& r : rows) {
    char ratio[32] = "-";
    if (r.measured_s > 0 && r.floor_s > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", r.measured_s / r.floor_s);
    std::printf("| %s | %s | %s | %s | %s | %s |\n", r.name.c_str(), seconds(r.measured_s).c_str(),
                seconds(r.floor_s).c_str(), ratio, r.target.c_str(), r.meets_target ? "yes" : "NO");
  }
  std::printf("\nFloors:\n");
  for (const cuda::BenchRow& r : rows) std::printf("  - %s: %s\n", r.name.c_str(), r.basis.c_str());
}

int run_bench(const BenchArgs& a) {
  if (cuda::device_count() == 0) {
    std::cerr << "emu35 bench: no CUDA GPU is visible (the benchmarks need one)\n";
    return 1;
  }
  cuda::BenchConfig cfg;
  cfg.device = cuda::parse_cuda_device(a.device);
  cfg.shared_dir = a.shared;
  cfg.iterations = a.iterations;
  std::printf("emu35 bench on %s (cuda:%d, %.1f GiB free)\n", cuda::device_name(cfg.device).c_str(), cfg.device,
              double(cuda::device_free_memory(cfg.device)) / double(1ull << 30));
  cfg.copy_bandwidth = cuda::measure_copy_bandwidth(cfg.device);
  cfg.peak_bf16_flops = cuda::measure_bf16_gemm_peak(cfg.device);
  std::printf("device copy: %.2f TB/s (read + write, 1 GiB D2D, best of 8)\n", cfg.copy_bandwidth * 1e-12);
  std::printf("bf16 GEMM:   %.0f TFLOP/s (cuBLASLt 8192^3, fp32 accumulate, best of 10)\n",
              cfg.peak_bf16_flops * 1e-12);
  std::fflush(stdout);

  cuda::LmBenchOptions lo;
  lo.only = a.only;
  lo.e2e = a.e2e || (!a.only.empty() && cuda::bench_selected(a.only, "e2e"));
  lo.layers = a.layers;
  cuda::LmBenchResult lm = cuda::bench_lm(cfg, lo);  // the runner is gone before the IBQ rows run
  std::vector<cuda::BenchRow> rows = lm.rows;

  double ibq_decode = 0;
  const bool want_e2e = lo.e2e || (lm.step_1k_s > 0 && lm.step_4k_s > 0 && a.only.empty());
  if (cuda::bench_selected(a.only, "vq") || want_e2e) {
    try {
      std::vector<cuda::BenchRow> vq = cuda::bench_vq(cfg);
      for (const cuda::BenchRow& r : vq)
        // The engine's default (bf16 precision) decodes pictures in TF32.
        if (r.name.rfind("IBQ decode", 0) == 0 && r.name.find("(tf32)") != std::string::npos)
          ibq_decode = r.measured_s;
      if (cuda::bench_selected(a.only, "vq")) rows.insert(rows.end(), vq.begin(), vq.end());
    } catch (const Error& e) {
      std::printf("IBQ rows skipped: %s\n", e.what());
    }
  }
  if (want_e2e) rows.push_back(cuda::e2e_row(lm, ibq_decode, lo.e2e));

  print_table(rows);
  if (!lm.notes.empty()) {
    std::printf("\nNotes:\n");
    for (const std::string& n : lm.notes) std::printf("  - %s\n", n.c_str());
  }
  return 0;
}
#endif

[[maybe_unused]] std::vector<std::string> split_keys(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const std::string& s : in) {
    std::stringstream ss(s);
    std::string k;
    while (std::getline(ss, k, ','))
      if (!k.empty()) out.push_back(k);
  }
  return out;
}

static RegisterCommand reg{
    "bench", "GPU benchmarks (decode, prefill, IBQ, end to end) against measured hardware floors", 40,
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<BenchArgs>();
      sub.add_option("--device", a->device, "cuda or cuda:N")->capture_default_str();
      sub.add_option("--shared", a->shared,
                     "folder holding configs/emu3.5-34b.json and configs/emu3.5-visiontokenizer.yaml")
          ->capture_default_str();
      sub.add_option("--only", a->only,
                     "rows to run (repeat or comma-separate): decode1k, decode4k, decode8, decode16, prefill4k, gemm, vq, e2e");
      sub.add_flag("--e2e", a->e2e, "also generate a whole 1024x1024 picture (about 100 s) instead of estimating it");
      sub.add_option("--iterations", a->iterations, "timed runs per row (median)")->capture_default_str();
      sub.add_option("--layers", a->layers, "use fewer transformer layers than the config (0 = all)");
      return [a]() -> int {
#ifdef EMU35_HAVE_CUDA
        BenchArgs args = *a;
        args.only = split_keys(a->only);
        return run_bench(args);
#else
        std::cerr << "emu35 bench: this build has no CUDA backend (rebuild where nvcc is installed)\n";
        return 1;
#endif
      };
    }};

}  // namespace
}  // namespace emu35::app
