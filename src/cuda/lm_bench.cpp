// `emu35 bench` transformer rows. Every floor is computed from measurements
// taken in the same process: weight (and KV) bytes over the device-copy
// bandwidth for decode steps, FLOPs over the bf16 GEMM peak for prefill.
#include "cuda/lm_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "common/error.h"
#include "cuda/cuda_check.h"
#include "cuda/lm_cuda_runner.h"
#include "cuda/lm_device_memory.h"
#include "cuda/lm_gemm.h"
#include "cuda/lm_step_backend.h"
#include "gen/generator.h"
#include "text/special_tokens.h"

namespace fs = std::filesystem;

namespace emu35::cuda {

namespace {
using Clock = std::chrono::steady_clock;

constexpr int kImageSide = 64;          // 64x64 tokens = a 1024x1024 picture
constexpr double kDecodeTarget = 1.15;  // x floor
constexpr double kBatchTarget = 1.3;    // 8 requests vs 1
constexpr double kPrefillTarget = 1.5;  // s
constexpr double kE2eTarget = 110.0;    // s

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fmt(const char* f, double a, double b = 0, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c, d);
  return buf;
}

// Tokens of a 1024x1024 picture from the header on: BOI "64*64" IMG, 64 rows, 63 EOLs, EOI.
int picture_steps() { return image_token_count(TokenSize{kImageSide, kImageSide}); }

struct Model {
  Emu3Config cfg;
  uint64_t layer_elems = 0;  // matmul weights of one layer
};

Model load_model(const BenchConfig& bc, const LmBenchOptions& o) {
  Model m;
  m.cfg = Emu3Config::load(fs::path(bc.shared_dir) / "configs" / "emu3.5-34b.json");
  if (o.layers > 0) m.cfg.num_hidden_layers = std::min<int64_t>(o.layers, m.cfg.num_hidden_layers);
  const Emu3Config& c = m.cfg;
  m.layer_elems = uint64_t(c.q_dim() + 2 * c.kv_dim()) * c.hidden_size + uint64_t(c.hidden_size) * c.q_dim() +
                  3 * uint64_t(c.intermediate_size) * c.hidden_size;
  return m;
}

SampleTask visual_task(int i, uint64_t step) {
  SampleTask t;
  t.plan.kind = StepPlan::Kind::Visual;
  t.cond_row = 2 * i;
  t.uncond_row = 2 * i + 1;
  t.guidance_scale = 5.0f;
  t.image = SamplingParams{5120, 1.0f, 1.0f};
  t.text = SamplingParams{1024, 0.9f, 1.0f};
  t.seed = 1234 + uint64_t(i);
  t.step = step;
  return t;
}

// Median wall time of one generation step (forward of every row + sampling)
// for `requests` CFG pairs whose caches hold ctx - 1 tokens before the step.
// forward_only: the runner's pass alone (no sampling, no host round trip).
double time_decode(CudaRunner& r, StepBackend& be, int requests, int ctx, int iters, bool forward_only = false) {
  const int cap = ctx + iters + 8;
  std::vector<int> slots;
  for (int i = 0; i < 2 * requests; ++i) {
    slots.push_back(r.new_slot(cap));
    r.fill_slot_random(slots.back(), ctx - 1, 77 + uint64_t(i));
  }
  std::vector<int32_t> toks(size_t(2 * requests), tok::BOV + 1);
  std::vector<SampleTask> tasks;
  for (int i = 0; i < requests; ++i) tasks.push_back(visual_task(i, 0));
  std::vector<int32_t> next(static_cast<size_t>(requests));
  const auto one = [&] {
    std::vector<lm::LmRow> rows;
    for (size_t j = 0; j < slots.size(); ++j) rows.push_back({slots[j], std::span<const int32_t>(&toks[j], 1)});
    if (forward_only) {
      r.forward_device(rows);
      EMU35_CUDA_CHECK(cudaStreamSynchronize(r.stream()));
      return;
    }
    be.step(rows, tasks, next.data());
    for (int i = 0; i < requests; ++i) {
      const int32_t t = next[size_t(i)] >= 0 ? next[size_t(i)] : tok::BOV;
      toks[size_t(2 * i)] = toks[size_t(2 * i + 1)] = t;
      ++tasks[size_t(i)].step;
    }
  };
  for (int w = 0; w < 3; ++w) one();  // eager run, graph capture, first replay
  std::vector<double> t;
  for (int it = 0; it < iters; ++it) {
    const auto t0 = Clock::now();
    one();
    t.push_back(seconds_since(t0));
  }
  for (int s : slots) r.free_slot(s);
  return median(t);
}

// Median wall time of the prefill step of two prompts of `tokens` tokens each.
double time_prefill(CudaRunner& r, StepBackend& be, int tokens, int iters) {
  std::vector<int32_t> a(static_cast<size_t>(tokens)), b(static_cast<size_t>(tokens));
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < tokens; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    a[size_t(i)] = int32_t((s >> 33) % uint64_t(tok::PAD));
    b[size_t(i)] = int32_t((s >> 13) % uint64_t(tok::PAD));
  }
  std::vector<double> t;
  for (int it = 0; it <= iters; ++it) {
    const int sa = r.new_slot(tokens + 8), sb = r.new_slot(tokens + 8);
    const lm::LmRow rows[2] = {{sa, a}, {sb, b}};
    const SampleTask task = visual_task(0, 0);
    int32_t next = -1;
    const auto t0 = Clock::now();
    be.step(rows, std::span<const SampleTask>(&task, 1), &next);
    if (it > 0) t.push_back(seconds_since(t0));  // the first run sets up plans
    r.free_slot(sa);
    r.free_slot(sb);
  }
  return median(t);
}

// The whole t2i generation loop of a 64x64-token picture (prompt opened with BOI).
double time_e2e(CudaRunner& r, StepBackend& be, int* prompt_tokens) {
  GenerationRequest q;
  q.prompt_ids = {tok::BOS};
  for (int i = 0; i < 96; ++i) q.prompt_ids.push_back(1000 + 37 * i);
  q.prompt_ids.push_back(tok::BOI);
  q.uncond_ids = {tok::BOS, 1000, 1001, 1002};
  q.guidance_scale = 5.0f;
  q.image = SamplingParams{5120, 1.0f, 1.0f};
  q.max_new_tokens = picture_steps();
  q.target_size = TokenSize{kImageSide, kImageSide};
  q.seed = 1;
  *prompt_tokens = static_cast<int>(q.prompt_ids.size());
  Generator gen(be);
  const auto t0 = Clock::now();
  auto res = gen.run({q});
  const double s = seconds_since(t0);
  if (res[0].stop_reason == "error") throw Error("bench e2e: generation failed: " + res[0].error);
  return s;
}

// Both small-batch GEMM paths on the decode shapes, as achieved bandwidth.
std::vector<std::string> gemm_notes(const Model& m, int device, double copy_bw) {
  CurrentDevice dev(device);
  const Emu3Config& c = m.cfg;
  struct Shape {
    const char* name;
    int64_t n, k;
  } shapes[] = {{"qkv", c.q_dim() + 2 * c.kv_dim(), c.hidden_size},
                {"o_proj", c.hidden_size, c.q_dim()},
                {"gate_up", 2 * c.intermediate_size, c.hidden_size},
                {"down", c.hidden_size, c.intermediate_size},
                {"lm_head", c.vocab_size, c.hidden_size}};
  std::vector<std::string> notes;
  Stream stream;
  GemmEngine g;
  {  // what a pure read stream achieves, next to the copy bandwidth the floors use
    const size_t bytes = size_t(1) << 30;
    DeviceBuffer buf(bytes, "read benchmark"), sink(size_t(lmk::grid_for_read(bytes)) * 4, "read benchmark");
    EMU35_CUDA_CHECK(cudaMemsetAsync(buf.get(), 1, bytes, stream.get()));
    lmk::stream_read(buf.get(), bytes, sink.as<unsigned>(), stream.get());
    double best = 1e30;
    Event e0(true), e1(true);
    for (int it = 0; it < 8; ++it) {
      e0.record(stream.get());
      lmk::stream_read(buf.get(), bytes, sink.as<unsigned>(), stream.get());
      e1.record(stream.get());
      e1.synchronize();
      best = std::min(best, double(e1.elapsed_ms_since(e0)) * 1e-3);
    }
    notes.push_back(fmt("gemm read-only stream of 1 GiB: %.2f TB/s", double(bytes) / best * 1e-12) +
                    fmt(" (copy bandwidth %.2f TB/s)", copy_bw * 1e-12));
  }
  for (const Shape& s : shapes) {
    DeviceBuffer w(size_t(s.n) * size_t(s.k) * 2, "bench weight");
    DeviceBuffer x(size_t(16) * size_t(s.k) * 2, "bench input");
    DeviceBuffer y(size_t(16) * size_t(s.n) * 4, "bench output");
    lmk::fill_random(w.get(), ActType::BF16, size_t(s.n) * size_t(s.k), 5, 0.03f, stream.get());
    lmk::fill_random(x.get(), ActType::BF16, size_t(16) * size_t(s.k), 6, 1.0f, stream.get());
    const DevMatrix dm{w.get(), ActType::BF16, s.n, s.k};
    for (int M : {2, 4, 8, 16}) {
      double best[2] = {1e30, 1e30};
      for (int path = 0; path < 2; ++path) {
        if (path == 0 && !lmk::gemv_supported(M, s.k)) continue;
        const auto run = [&] {
          if (path == 0)
            g.matmul_streaming(x.get(), M, dm, y.as<float>(), s.n, stream.get());
          else
            g.matmul_cublaslt(x.get(), M, dm, y.as<float>(), s.n, stream.get());
        };
        run();
        Event e0(true), e1(true);
        for (int it = 0; it < 10; ++it) {
          e0.record(stream.get());
          run();
          e1.record(stream.get());
          e1.synchronize();
          best[path] = std::min(best[path], double(e1.elapsed_ms_since(e0)) * 1e-3);
        }
      }
      const double bytes = double(s.n) * double(s.k) * 2;
      notes.push_back(std::string("gemm ") + s.name + fmt(" M=%.0f N=%.0f K=%.0f: ", M, double(s.n), double(s.k)) +
                      (best[0] < 1e29 ? fmt("streaming %.1f us (%.2f TB/s), ", best[0] * 1e6, bytes / best[0] * 1e-12)
                                      : std::string()) +
                      fmt("cuBLASLt %.1f us (%.2f TB/s)", best[1] * 1e6, bytes / best[1] * 1e-12) +
                      fmt(", copy floor %.1f us", bytes / copy_bw * 1e6));
    }
  }
  return notes;
}

BenchRow decode_row(const std::string& name, double t, double bytes, double bw, const std::string& what) {
  BenchRow r;
  r.name = name;
  r.measured_s = t;
  r.floor_s = bytes / bw;
  r.basis = fmt("%.1f GB ", bytes * 1e-9) + what + fmt(" / %.2f TB/s copy", bw * 1e-12);
  r.target = fmt("<= %.2fx floor", kDecodeTarget);
  r.meets_target = t > 0 && t <= kDecodeTarget * r.floor_s;
  return r;
}

}  // namespace

bool bench_selected(const std::vector<std::string>& only, const std::string& key) {
  if (only.empty()) return key != "e2e";
  return std::find(only.begin(), only.end(), key) != only.end();
}

double measure_copy_bandwidth(int device) {
  CurrentDevice dev(device);
  const size_t bytes = size_t(1) << 30;
  DeviceBuffer a(bytes, "copy benchmark"), b(bytes, "copy benchmark");
  Stream s;
  EMU35_CUDA_CHECK(cudaMemsetAsync(a.get(), 1, bytes, s.get()));
  EMU35_CUDA_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, s.get()));
  double best = 1e30;
  Event e0(true), e1(true);
  for (int i = 0; i < 8; ++i) {
    e0.record(s.get());
    EMU35_CUDA_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, s.get()));
    e1.record(s.get());
    e1.synchronize();
    best = std::min(best, double(e1.elapsed_ms_since(e0)) * 1e-3);
  }
  return 2.0 * double(bytes) / best;  // read + write
}

double measure_bf16_gemm_peak(int device) {
  CurrentDevice dev(device);
  constexpr int64_t n = 8192;
  DeviceBuffer w(size_t(n * n * 2), "GEMM benchmark"), x(size_t(n * n * 2), "GEMM benchmark"),
      y(size_t(n * n * 4), "GEMM benchmark");
  Stream s;
  lmk::fill_random(w.get(), ActType::BF16, size_t(n * n), 1, 0.03f, s.get());
  lmk::fill_random(x.get(), ActType::BF16, size_t(n * n), 2, 1.0f, s.get());
  GemmEngine g;
  const DevMatrix dm{w.get(), ActType::BF16, n, n};
  g.matmul_cublaslt(x.get(), int(n), dm, y.as<float>(), n, s.get());
  double best = 1e30;
  Event e0(true), e1(true);
  for (int i = 0; i < 10; ++i) {
    e0.record(s.get());
    g.matmul_cublaslt(x.get(), int(n), dm, y.as<float>(), n, s.get());
    e1.record(s.get());
    e1.synchronize();
    best = std::min(best, double(e1.elapsed_ms_since(e0)) * 1e-3);
  }
  return 2.0 * double(n) * double(n) * double(n) / best;
}

LmBenchResult bench_lm(const BenchConfig& bc, const LmBenchOptions& o) {
  LmBenchResult res;
  const Model m = load_model(bc, o);
  const Emu3Config& c = m.cfg;
  const double bw = bc.copy_bandwidth, peak = bc.peak_bf16_flops;
  const auto sel = [&](const char* k) { return bench_selected(o.only, k) || (o.e2e && std::string(k) == "e2e"); };
  if (sel("gemm")) res.notes = gemm_notes(m, bc.device, bw);
  if (!(sel("decode1k") || sel("decode4k") || sel("decode8") || sel("decode16") || sel("prefill4k") || sel("e2e")))
    return res;

  CudaRunnerOptions ro;
  ro.device = bc.device;
  ro.precision = Precision::BF16;
  ro.progress = false;
  std::fprintf(stderr, "bench: generating %lld-layer random bf16 weights on the GPU...\n",
               static_cast<long long>(c.num_hidden_layers));
  CudaRunner runner(c, 42, ro);
  auto be = make_cuda_step_backend(runner);
  const RunnerMemory mem = runner.memory();
  const double wbytes = double(mem.streamed_per_step), kvtok = double(mem.kv_bytes_per_token);
  const int iters = std::max(5, bc.iterations);
  const std::string wdesc = "weights";

  // EMU35_STEP_PROFILE=1: the runner times every kernel (eagerly, no graphs).
  const auto profile = [&](const char* what) {
    const std::string rep = runner.step_profile_report();
    if (!rep.empty()) std::fprintf(stderr, "step profile, %s:\n%s", what, rep.c_str());
  };
  if (sel("decode1k")) {
    runner.step_profile_report();  // drop what setting up the slots ran
    res.step_1k_s = time_decode(runner, *be, 1, 1024, iters);
    profile("batch 2 at 1K");
    res.rows.push_back(decode_row("decode step, batch 2 (1 CFG pair), 1K context", res.step_1k_s,
                                  wbytes + 2 * 1024 * kvtok, bw, wdesc + " + KV"));
    const double fwd = time_decode(runner, *be, 1, 1024, iters, true);
    res.rows.back().basis += fmt("; forward pass alone %.2f ms, sampling + host round trip %.2f ms", fwd * 1e3,
                                 (res.step_1k_s - fwd) * 1e3);
  }
  if (sel("decode4k")) {
    runner.step_profile_report();
    res.step_4k_s = time_decode(runner, *be, 1, 4096, iters);
    profile("batch 2 at 4K");
    res.rows.push_back(decode_row("decode step, batch 2 (1 CFG pair), 4K context", res.step_4k_s,
                                  wbytes + 2 * 4096 * kvtok, bw, wdesc + " + KV"));
  }
  if (sel("decode8")) {  // 4 requests: the streaming GEMV only for the tall weights (GemmEngine::streams)
    BenchRow r = decode_row("decode step, 8 rows (4 CFG pairs), 1K context", time_decode(runner, *be, 4, 1024, iters),
                            wbytes + 8 * 1024 * kvtok, bw, wdesc + " + KV");
    r.target = "none (reported)";
    r.meets_target = true;
    res.rows.push_back(r);
  }
  if (sel("decode16")) {
    runner.step_profile_report();
    const double t = time_decode(runner, *be, 8, 1024, iters);
    profile("16 rows at 1K");
    BenchRow r = decode_row("decode step, 16 rows (8 CFG pairs), 1K context", t, wbytes + 16 * 1024 * kvtok, bw,
                            wdesc + " + KV");
    const double one = res.step_1k_s > 0 ? res.step_1k_s : time_decode(runner, *be, 1, 1024, iters);
    r.target = fmt("< %.1fx the batch-2 step (%.2f ms)", kBatchTarget, one * 1e3);
    r.meets_target = t < kBatchTarget * one;
    r.basis += fmt("; %.2fx the batch-2 step", t / one);
    res.rows.push_back(r);
  }
  if (sel("prefill4k")) {
    const int T = 4096;
    const double t = time_prefill(runner, *be, T, std::max(3, bc.iterations / 3));
    const double mm = 2.0 * 2 * T * double(c.num_hidden_layers) * double(m.layer_elems) +
                      2.0 * 2 * double(c.vocab_size) * double(c.hidden_size);
    const double attn = 2.0 * double(c.num_hidden_layers) * 4.0 * double(c.q_dim()) * (double(T) * (T + 1) / 2);
    BenchRow r;
    r.name = "prefill, 4K-token prompt pair (2 x 4096 tokens)";
    r.measured_s = t;
    r.floor_s = (mm + attn) / peak;
    r.basis = fmt("%.1f TFLOP (%.1f of it attention) / %.0f TFLOP/s bf16 GEMM", (mm + attn) * 1e-12, attn * 1e-12,
                  peak * 1e-12);
    r.target = fmt("<= %.1f s", kPrefillTarget);
    r.meets_target = t <= kPrefillTarget;
    res.rows.push_back(r);
  }
  // Floor of the picture's generation loop: every step streams the weights
  // and both streams' caches (context growing from the prompt on).
  const int steps = picture_steps();
  const int prompt = 98;
  double floor_lm = 0;
  for (int i = 0; i < steps; ++i) floor_lm += (wbytes + 2 * double(prompt + i) * kvtok) / bw;
  res.e2e_prompt_tokens = prompt;
  if (sel("e2e") && o.e2e) {
    int p = 0;
    res.e2e_lm_s = time_e2e(runner, *be, &p);
    res.e2e_prompt_tokens = p;
  }
  res.e2e_floor_s = floor_lm;
  res.notes.push_back(fmt("e2e LM floor: %.0f steps x (%.1f GB weights + KV) / %.2f TB/s = %.1f s", steps,
                          wbytes * 1e-9, bw * 1e-12, floor_lm));
  return res;
}

BenchRow e2e_row(const LmBenchResult& lm, double ibq_decode_s, bool measured) {
  BenchRow r;
  r.name = std::string("t2i 1024x1024 end to end (") + std::to_string(picture_steps()) + " steps + IBQ decode)" +
           (measured ? "" : ", estimate");
  r.floor_s = lm.e2e_floor_s;
  if (measured) {
    r.measured_s = lm.e2e_lm_s + ibq_decode_s;
    r.basis = fmt("measured generation loop %.1f s + IBQ decode %.2f s", lm.e2e_lm_s, ibq_decode_s);
  } else if (lm.step_1k_s > 0 && lm.step_4k_s > 0) {
    // Step time is linear in the context: interpolate at each step's context.
    const int steps = picture_steps();
    double t = 0;
    for (int i = 0; i < steps; ++i) {
      const double ctx = lm.e2e_prompt_tokens + i;
      t += lm.step_1k_s + (lm.step_4k_s - lm.step_1k_s) * (ctx - 1024) / (4096 - 1024);
    }
    r.measured_s = t + ibq_decode_s;
    r.basis =
        fmt("estimate: decode steps interpolated from the 1K/4K rows (%.1f s) + IBQ decode %.2f s", t, ibq_decode_s);
  } else {
    r.basis = "needs the decode1k and decode4k rows (or --e2e)";
  }
  r.basis += "; floor: LM weights + KV streaming only";
  r.target = fmt("<= %.0f s", kE2eTarget);
  r.meets_target = r.measured_s > 0 && r.measured_s <= kE2eTarget;
  return r;
}

}  // namespace emu35::cuda
