// One row of `emu35 bench`: what was measured, the hardware floor computed in
// the same process, and their ratio (measured / floor; 1.0 = at the limit).
#pragma once
#include <string>
#include <vector>

namespace emu35::cuda {

struct BenchRow {
  std::string name;      // e.g. "decode step, batch 2, 1K context"
  double measured_s = 0;  // median wall time of one run
  double floor_s = 0;     // the hardware limit for the same work
  std::string basis;     // how the floor was computed ("65.3 GB / 3.01 TB/s")
  std::string target;    // the target, e.g. "<= 1.15x floor"
  bool meets_target = false;
};

struct BenchConfig {
  std::string shared_dir = "../shared";  // configs/emu3.5-34b.json, configs/emu3.5-visiontokenizer.yaml
  int device = 0;
  int iterations = 10;
  double copy_bandwidth = 0;   // bytes/s of a device-to-device copy, measured once by the caller
  double peak_bf16_flops = 0;  // measured by the caller with a large cuBLASLt GEMM
  double peak_fp32_flops = 0;  // TF32 / FP32 GEMM peak measured the same way
};

// IBQ rows (src/cuda/vq_*): decode of 64x64 codes, encode of a 1024x1024 picture.
std::vector<BenchRow> bench_vq(const BenchConfig& cfg);

}  // namespace emu35::cuda
