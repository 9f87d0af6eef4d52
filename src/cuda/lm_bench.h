// The transformer rows of `emu35 bench` (random full-size weights generated on
// the GPU, shapes from <shared>/configs/emu3.5-34b.json) and the hardware
// measurements every floor is computed from.
#pragma once
#include <string>
#include <vector>

#include "cuda/bench_rows.h"

namespace emu35::cuda {

// Bytes per second a device-to-device copy moves, counting what it reads and
// what it writes (best of several copies of 1 GiB).
double measure_copy_bandwidth(int device);
// FLOP/s of a large bf16 cuBLASLt product (8192^3, float32 accumulate), best of several.
double measure_bf16_gemm_peak(int device);

struct LmBenchOptions {
  // Row keys to run (empty: all but e2e): decode1k, decode4k, decode16, prefill4k, gemm, e2e.
  std::vector<std::string> only;
  bool e2e = false;  // run the full 1024x1024 generation (about 100 s)
  int layers = 0;    // > 0: fewer layers than the config (floors scale with them)
};

struct LmBenchResult {
  std::vector<BenchRow> rows;
  std::vector<std::string> notes;       // extra measurements (GEMM paths), printed below the table
  double step_1k_s = 0, step_4k_s = 0;  // decode step of one CFG pair, 0 when not measured
  double e2e_lm_s = 0;                  // the generation loop of the e2e run (with --e2e)
  double e2e_prompt_tokens = 0;
  double e2e_floor_s = 0;  // weights + KV streaming of the picture's generation loop
};

LmBenchResult bench_lm(const BenchConfig& cfg, const LmBenchOptions& opts);

// The end-to-end row from the LM part (measured or estimated from the decode
// rows) plus the IBQ decode time (0 when unknown).
BenchRow e2e_row(const LmBenchResult& lm, double ibq_decode_s, bool measured);

bool bench_selected(const std::vector<std::string>& only, const std::string& key);

}  // namespace emu35::cuda
